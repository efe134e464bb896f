/**
 * What a failed connection says about the network, in words: the one place that reads Node's and
 * undici's error codes (ECONNREFUSED, ENOTFOUND, certificate errors, timeouts) for the adapters
 * that talk to the Kubernetes API server, GitHub and the LLM provider. A failure described here
 * means no answer came back at all, so it is never the user's request that was refused.
 */

export type NetworkFailureKind = 'refused' | 'dns' | 'timeout' | 'reset' | 'unreachable' | 'tls' | 'blocked_port';

export interface NetworkFailure {
  kind: NetworkFailureKind;
  /** The code as thrown (ECONNREFUSED, ENOTFOUND, DEPTH_ZERO_SELF_SIGNED_CERT, timeout …). */
  code: string;
  /** E.g. "connection refused (ECONNREFUSED)". */
  text: string;
}

const BY_CODE: Record<string, [NetworkFailureKind, string]> = {
  ECONNREFUSED: ['refused', 'connection refused'],
  ENOTFOUND: ['dns', 'host name not found in DNS'],
  EAI_AGAIN: ['dns', 'DNS lookup failed (temporary)'],
  ETIMEDOUT: ['timeout', 'connection timed out'],
  UND_ERR_CONNECT_TIMEOUT: ['timeout', 'connection timed out'],
  UND_ERR_HEADERS_TIMEOUT: ['timeout', 'no answer in time'],
  UND_ERR_BODY_TIMEOUT: ['timeout', 'the answer stopped arriving'],
  ECONNRESET: ['reset', 'connection reset'],
  EPIPE: ['reset', 'connection closed'],
  UND_ERR_SOCKET: ['reset', 'connection closed'],
  UND_ERR_CLOSED: ['reset', 'connection closed'],
  EHOSTUNREACH: ['unreachable', 'host unreachable'],
  ENETUNREACH: ['unreachable', 'network unreachable'],
  EHOSTDOWN: ['unreachable', 'host down'],
  EADDRNOTAVAIL: ['unreachable', 'address not available'],
};

/** OpenSSL/Node certificate and handshake codes: the server may be up, but it cannot be trusted. */
const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|EPROTO$|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_(GET|VERIFY|DECRYPT)_|HOSTNAME_MISMATCH$|INVALID_CA$|UNSPECIFIED$)/;

/** The error and its causes, outermost first (fetch wraps the socket error as `cause`). */
function chain(err: unknown): Array<{ code?: unknown; name?: unknown; message?: unknown }> {
  const out: Array<{ code?: unknown; name?: unknown; message?: unknown }> = [];
  let e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown } | undefined;
  for (let i = 0; e && typeof e === 'object' && i < 6; i++) {
    out.push(e);
    e = e.cause as typeof e;
  }
  return out;
}

/** Describes a connection-level failure, or returns undefined when a server did answer (or it is something else). */
export function describeNetworkFailure(err: unknown): NetworkFailure | undefined {
  const links = chain(err);
  for (const e of links) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (!code) continue;
    const known = BY_CODE[code];
    if (known) return { kind: known[0], code, text: `${known[1]} (${code})` };
    if (TLS_CODE.test(code)) {
      const detail = typeof e.message === 'string' ? e.message.split(';')[0] : code;
      return { kind: 'tls', code, text: `TLS failed: ${detail} (${code})` };
    }
  }
  // fetch never connects to the ports the Fetch standard blocks (1, 22, 25, 6000 …): undici says only "bad port".
  if (links.some((e) => e.message === 'bad port'))
    return { kind: 'blocked_port', code: 'bad_port', text: 'fetch never connects to this port (a port the Fetch standard blocks)' };
  // A client-side deadline (AbortSignal.timeout) or an abort: nothing came back in time.
  if (links.some((e) => e.name === 'TimeoutError')) return { kind: 'timeout', code: 'timeout', text: 'no answer in time (timeout)' };
  return undefined;
}

/** What to do next, by kind, for a service at `url` (the caller adds how to check its own config). */
export function networkHint(kind: NetworkFailureKind): string {
  switch (kind) {
    case 'refused':
      return 'nothing is listening there: check that the server is running and the address is right';
    case 'dns':
      return 'the host name does not resolve: check the address and your DNS / network';
    case 'timeout':
      return 'the server did not answer in time: check the network (VPN, firewall) and that the server is up';
    case 'blocked_port':
      return 'use the port the server really listens on; ports such as 1, 22, 25 and 6000 are never dialled';
    case 'tls':
      return "the server's certificate is not trusted: check the certificate authority in the configuration";
    default:
      return 'check the network and that the server is up';
  }
}
