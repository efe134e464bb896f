/**
 * The last line of defence before "internal error … a bug in vpm": an error no adapter mapped, but
 * whose code says the environment is the problem (a connection that failed, a full disk, a denied
 * permission, a read-only file system), becomes a VpmError that says so. Adapters still map their
 * own failures first, with the server and context they know; this only catches what slipped by.
 */
import { describeNetworkFailure, networkHint } from '../adapters/net-errors.js';
import { fromSystemError, OperationalError, type VpmError } from './errors.js';

interface SystemErrorLike {
  code?: unknown;
  syscall?: unknown;
  path?: unknown;
  address?: unknown;
  port?: unknown;
  cause?: unknown;
}

export function environmentErrorFrom(err: unknown): VpmError | undefined {
  const net = describeNetworkFailure(err);
  if (net) {
    let e = err as SystemErrorLike | undefined;
    let where = '';
    for (let i = 0; e && i < 6 && !where; i++, e = e.cause as SystemErrorLike | undefined) {
      if (typeof e.address === 'string') where = ` to ${e.address}${typeof e.port === 'number' ? `:${e.port}` : ''}`;
    }
    return new OperationalError(`network failure${where}: ${net.text}`, { hint: networkHint(net.kind), retryable: true });
  }
  // Disk, permission and file-system errors: the one mapping that names the path (errors.ts).
  return fromSystemError(err);
}
