/**
 * The HTTP POST of a notification: JSON body, a short timeout, the answer's status. Credentials in
 * the URL (`https://user:pass@host/…`) are sent as Basic authorization, as curl does (fetch refuses them in the URL).
 */
export async function postJson(url: string, body: unknown, timeoutMs: number): Promise<{ status: number }> {
  const target = new URL(url);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'vpm' };
  if (target.username || target.password) {
    const user = decodeURIComponent(target.username);
    const pass = decodeURIComponent(target.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  const res = await fetch(target, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  await res.arrayBuffer().catch(() => undefined);
  return { status: res.status };
}
