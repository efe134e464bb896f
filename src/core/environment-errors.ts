/**
 * The last line of defence before "internal error … a bug in vpm": an error no adapter mapped, but
 * whose code says the environment is the problem (a connection that failed, a full disk, a denied
 * permission, a read-only file system), becomes a VpmError that says so. Adapters still map their
 * own failures first, with the server and context they know; this only catches what slipped by.
 */
import { describeNetworkFailure, networkHint } from '../adapters/net-errors.js';
import { EnvironmentError, OperationalError, type VpmError } from './errors.js';

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
  const e = err as SystemErrorLike | undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const on = typeof e?.path === 'string' ? ` (${typeof e.syscall === 'string' ? `${e.syscall} ` : ''}${e.path})` : '';
  switch (code) {
    case 'ENOSPC':
      return new EnvironmentError(`no space left on the device${on}`, { hint: 'free some disk space and run the command again' });
    case 'EDQUOT':
      return new EnvironmentError(`disk quota exceeded${on}`, { hint: 'free some space within your quota and run the command again' });
    case 'EACCES':
    case 'EPERM':
      return new EnvironmentError(`permission denied${on}`, { hint: 'check the owner and permissions of that path (ls -l), or run as a user who may write it' });
    case 'EROFS':
      return new EnvironmentError(`read-only file system${on}`, { hint: 'run vpm where the repository can be written' });
    default:
      return undefined;
  }
}
