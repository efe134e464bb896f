/**
 * Secret shapes for the masking tests: provider tokens, structural forms and key blocks, each as
 * [name, text holding it, the secret itself]. Made from deterministic filler: no real credential.
 */
/** Deterministic filler so the corpus holds no real credential. */
export function chars(n: number, alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789', seed = 7): string {
  let s = '';
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    s += alphabet[x % alphabet.length];
  }
  return s;
}
const HEX = '0123456789abcdef';
export const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const pemBody = Array.from({ length: 6 }, (_, i) => chars(64, B64, i + 1)).join('\n');
const ghp = `ghp_${chars(36)}`;

/** [name, text containing the secret, the secret itself] */
export const CORPUS: Array<[string, string, string]> = [
  // Provider tokens
  ['github classic', `token is ${ghp} ok`, ghp],
  ['github oauth', `x gho_${chars(36, undefined, 2)}`, `gho_${chars(36, undefined, 2)}`],
  ['github server', `ghs_${chars(36, undefined, 3)}`, `ghs_${chars(36, undefined, 3)}`],
  ['github refresh', `ghr_${chars(36, undefined, 4)}`, `ghr_${chars(36, undefined, 4)}`],
  ['github user-to-server', `ghu_${chars(36, undefined, 5)}`, `ghu_${chars(36, undefined, 5)}`],
  ['github fine-grained', `github_pat_${chars(82, undefined, 6)}`, `github_pat_${chars(82, undefined, 6)}`],
  ['github glued x_ghp_', `x_${ghp}`, ghp],
  ['github url-encoded %3Dghp_', `https://h/cb?token%3D${ghp}&x=1`, ghp],
  ['openai project key', `sk-proj-${chars(74, undefined, 8)}T3BlbkFJ${chars(74, undefined, 9)}`, `sk-proj-${chars(74, undefined, 8)}`],
  ['openai legacy key', `sk-${chars(20, undefined, 10)}T3BlbkFJ${chars(20, undefined, 11)}`, `sk-${chars(20, undefined, 10)}`],
  ['anthropic key', `sk-ant-api03-${chars(93, undefined, 12)}AA`, `sk-ant-api03-${chars(93, undefined, 12)}AA`],
  ['stripe live', `sk_live_${chars(24, undefined, 13)}`, `sk_live_${chars(24, undefined, 13)}`],
  ['stripe restricted', `rk_test_${chars(24, undefined, 14)}`, `rk_test_${chars(24, undefined, 14)}`],
  ['slack bot', `xoxb-1234567890-1234567890-${chars(24, undefined, 15)}`, `xoxb-1234567890-1234567890-${chars(24, undefined, 15)}`],
  [
    'slack webhook',
    `https://hooks.slack.com/services/T${chars(8, undefined, 16)}/B${chars(8, undefined, 17)}/${chars(24, undefined, 18)}`,
    chars(24, undefined, 18),
  ],
  [
    'aws access key id',
    `AKIA${chars(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 19)}`,
    `AKIA${chars(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 19)}`,
  ],
  [
    'aws session key id ASIA',
    `id=ASIA${chars(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 20)}`,
    `ASIA${chars(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 20)}`,
  ],
  ['aws secret access key', `aws_secret_access_key = ${chars(40, B64, 21)}`, chars(40, B64, 21)],
  ['aws secret env form', `AWS_SECRET_ACCESS_KEY="${chars(40, B64, 22)}"`, chars(40, B64, 22)],
  ['google api key', `AIza${chars(35, undefined, 23)}`, `AIza${chars(35, undefined, 23)}`],
  ['google oauth access token', `ya29.${chars(60, undefined, 24)}`, `ya29.${chars(60, undefined, 24)}`],
  [
    'gcp service account json',
    `{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\\n${chars(64, B64, 25)}\\n-----END PRIVATE KEY-----\\n"}`,
    chars(64, B64, 25),
  ],
  ['npm token', `npm_${chars(36, undefined, 26)}`, `npm_${chars(36, undefined, 26)}`],
  ['npmrc authToken', `//registry.npmjs.org/:_authToken=${chars(36, HEX, 27)}`, chars(36, HEX, 27)],
  ['gitlab pat', `glpat-${chars(20, undefined, 28)}`, `glpat-${chars(20, undefined, 28)}`],
  ['gitlab runner', `glrt-${chars(24, undefined, 29)}`, `glrt-${chars(24, undefined, 29)}`],
  [
    'hugging face',
    `HF token hf_${chars(34, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 30)}`,
    `hf_${chars(34, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 30)}`,
  ],
  ['groq', `gsk_${chars(52, undefined, 31)}`, `gsk_${chars(52, undefined, 31)}`],
  ['xai', `xai-${chars(80, undefined, 32)}`, `xai-${chars(80, undefined, 32)}`],
  ['linear', `lin_api_${chars(40, undefined, 33)}`, `lin_api_${chars(40, undefined, 33)}`],
  [
    'notion',
    `ntn_${chars(11, '0123456789', 34)}${chars(35, undefined, 35)}`,
    `ntn_${chars(11, '0123456789', 34)}${chars(35, undefined, 35)}`,
  ],
  ['sendgrid', `SG.${chars(22, undefined, 36)}.${chars(43, undefined, 37)}`, `SG.${chars(22, undefined, 36)}.${chars(43, undefined, 37)}`],
  ['shopify', `shpat_${chars(32, HEX, 38)}`, `shpat_${chars(32, HEX, 38)}`],
  ['databricks', `dapi${chars(32, HEX, 39)}`, `dapi${chars(32, HEX, 39)}`],
  ['docker pat', `dckr_pat_${chars(27, undefined, 40)}`, `dckr_pat_${chars(27, undefined, 40)}`],
  ['figma', `figd_${chars(40, undefined, 41)}`, `figd_${chars(40, undefined, 41)}`],
  ['vault service token', `hvs.${chars(95, undefined, 42)}`, `hvs.${chars(95, undefined, 42)}`],
  ['grafana cloud', `glc_${chars(40, undefined, 43)}`, `glc_${chars(40, undefined, 43)}`],
  [
    'tailscale',
    `tskey-auth-${chars(12, undefined, 44)}-${chars(30, undefined, 45)}`,
    `tskey-auth-${chars(12, undefined, 44)}-${chars(30, undefined, 45)}`,
  ],
  ['vercel', `vcp_${chars(24, undefined, 46)}`, `vcp_${chars(24, undefined, 46)}`],
  ['digitalocean', `dop_v1_${chars(64, HEX, 47)}`, `dop_v1_${chars(64, HEX, 47)}`],
  [
    'jwt / kube service account token',
    `eyJhbGciOiJSUzI1NiJ9.eyJ${chars(40, undefined, 48)}.${chars(60, undefined, 49)}`,
    chars(60, undefined, 49),
  ],
  ['kube bootstrap token', `kubeadm join --token abcdef.0123456789abcdef x`, 'abcdef.0123456789abcdef'],
  // Structural forms
  ['key=value', `password=${chars(12, undefined, 50)}`, chars(12, undefined, 50)],
  ['key=value short with semicolon', 'password=ab;rest and more', 'ab;rest'],
  ['env export', `export DB_PASSWORD='${chars(14, undefined, 51)}'`, chars(14, undefined, 51)],
  ['json password', `{"password": "${chars(10, undefined, 52)}"}`, chars(10, undefined, 52)],
  ['json token compact', `{"token":"${chars(10, undefined, 53)}"}`, chars(10, undefined, 53)],
  ['json in json string', `"body":"{\\"client_secret\\":\\"${chars(16, undefined, 54)}\\"}"`, chars(16, undefined, 54)],
  ['yaml key', `db:\n  password: ${chars(12, undefined, 55)}\n  host: x`, chars(12, undefined, 55)],
  ['yaml block scalar', `secret: |\n  ${chars(30, undefined, 56)}\n  ${chars(30, undefined, 57)}\nnext: 1`, chars(30, undefined, 57)],
  ['camelCase apiKey', `apiKey: "${chars(20, undefined, 58)}"`, chars(20, undefined, 58)],
  ['flag with space', `mysql --password ${chars(12, undefined, 59)} -h db`, chars(12, undefined, 59)],
  ['flag with equals', `deploy --api-key=${chars(12, undefined, 60)}`, chars(12, undefined, 60)],
  ['header x-api-key', `X-Api-Key: ${chars(24, undefined, 61)}`, chars(24, undefined, 61)],
  [
    'basic auth header',
    `Authorization: Basic ${Buffer.from('user:' + chars(10, undefined, 62)).toString('base64')}`,
    Buffer.from('user:' + chars(10, undefined, 62)).toString('base64'),
  ],
  ['bearer header', `Authorization: Bearer ${chars(30, undefined, 63)}`, chars(30, undefined, 63)],
  ['github token header', `Authorization: token ${chars(30, undefined, 64)}`, chars(30, undefined, 64)],
  ['cookie header', `Cookie: ${chars(30, undefined, 65)}`, chars(30, undefined, 65)],
  ['https url credentials', `https://alice:${chars(12, undefined, 66)}@example.com/repo.git`, chars(12, undefined, 66)],
  ['postgres url', `postgres://u:${chars(10, undefined, 67)}@h:5432/db`, chars(10, undefined, 67)],
  ['mongodb+srv url', `mongodb+srv://admin:${chars(10, undefined, 68)}@cluster0.example.net/`, chars(10, undefined, 68)],
  ['url password with @', `redis://:p@${chars(10, undefined, 69)}@cache:6379`, chars(10, undefined, 69)],
  ['url bare token user', `https://${chars(40, undefined, 70)}@github.com/o/r.git`, chars(40, undefined, 70)],
  // Key blocks
  ['pem rsa', `-----BEGIN RSA PRIVATE KEY-----\n${pemBody}\n-----END RSA PRIVATE KEY-----`, pemBody.split('\n')[2]!],
  ['pem openssh', `-----BEGIN OPENSSH PRIVATE KEY-----\n${pemBody}\n-----END OPENSSH PRIVATE KEY-----`, pemBody.split('\n')[3]!],
  ['pem encrypted', `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${pemBody}\n-----END ENCRYPTED PRIVATE KEY-----`, pemBody.split('\n')[4]!],
  [
    'pgp private key block',
    `-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n${pemBody}\n-----END PGP PRIVATE KEY BLOCK-----`,
    pemBody.split('\n')[1]!,
  ],
  ['pem truncated (no END)', `log:\n-----BEGIN PRIVATE KEY-----\n${pemBody.slice(0, 200)}`, pemBody.slice(130, 190)],
  ['pem without BEGIN (head cut)', `${pemBody.slice(70)}\n-----END PRIVATE KEY-----\ndone`, pemBody.slice(200, 260)],
];
