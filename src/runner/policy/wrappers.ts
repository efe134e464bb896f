/**
 * Wrappers: programs that run another program given in their own arguments. The policy unwraps
 * them (each with its own option grammar) so rules see the program that really runs; every layer is
 * checked too. A wrapper missing from this table is a program like any other, so the table errs on
 * the side of listing: an option a wrapper does not know is read both as a flag and as taking a
 * value, and both readings are evaluated.
 */
export interface WrapperSpec {
  /** Short options taking a value (attached or next word). */
  valueShort: string;
  /** Short options that are plain flags. */
  flagShort: string;
  /** Short options whose value can only be attached (`xargs -i{}`). */
  optionalShort?: string;
  valueLong: string[];
  flagLong: string[];
  /** Positional words before the command (timeout's duration, chroot's root, flock's file). */
  leadingPositionals?: number;
  /** Options whose value is itself a command string. */
  stringShort?: string;
  stringLong?: string[];
  /** Options that mean the remaining words are run through a shell (`sudo -s`). */
  shellShort?: string;
  shellLong?: string[];
  /** With no command, this wrapper starts an interactive shell (opaque). */
  emptyIsShell?: boolean;
  /** The remaining words are joined and run by `sh -c` (watch). */
  joinsToShell?: boolean;
}

const W = (s: Partial<WrapperSpec>): WrapperSpec => ({ valueShort: '', flagShort: '', valueLong: [], flagLong: [], ...s });

export const WRAPPERS: Record<string, WrapperSpec> = {
  env: W({
    valueShort: 'uCP',
    flagShort: 'i0v',
    valueLong: ['--unset', '--chdir'],
    flagLong: [
      '--ignore-environment',
      '--null',
      '--debug',
      '--list-signal-handling',
      '--block-signal',
      '--default-signal',
      '--ignore-signal',
    ],
    stringShort: 'S',
    stringLong: ['--split-string'],
  }),
  sudo: W({
    valueShort: 'CDghpRrtTUu',
    flagShort: 'AbBEeHKklnNPSVv',
    valueLong: [
      '--close-from',
      '--chdir',
      '--group',
      '--host',
      '--prompt',
      '--chroot',
      '--role',
      '--type',
      '--command-timeout',
      '--other-user',
      '--user',
    ],
    flagLong: [
      '--askpass',
      '--background',
      '--bell',
      '--preserve-env',
      '--edit',
      '--set-home',
      '--remove-timestamp',
      '--reset-timestamp',
      '--list',
      '--non-interactive',
      '--preserve-groups',
      '--stdin',
      '--version',
      '--validate',
    ],
    shellShort: 'si',
    shellLong: ['--shell', '--login'],
  }),
  doas: W({ valueShort: 'Cu', flagShort: 'nL', shellShort: 's' }),
  pkexec: W({ valueLong: ['--user'], flagLong: ['--disable-internal-agent', '--keep-cwd'] }),
  nice: W({ valueShort: 'n', flagShort: '0123456789', valueLong: ['--adjustment'] }),
  ionice: W({
    valueShort: 'cnp',
    flagShort: 'tu',
    valueLong: ['--class', '--classdata', '--pid', '--pgid', '--uid'],
    flagLong: ['--ignore'],
  }),
  timeout: W({
    valueShort: 'ks',
    flagShort: 'fpv',
    valueLong: ['--kill-after', '--signal'],
    flagLong: ['--preserve-status', '--foreground', '--verbose'],
    leadingPositionals: 1,
  }),
  nohup: W({}),
  xargs: W({
    valueShort: 'adEILnPs',
    flagShort: '0prtxo',
    optionalShort: 'eil',
    valueLong: ['--arg-file', '--delimiter', '--max-lines', '--max-args', '--max-procs', '--max-chars', '--process-slot-var'],
    flagLong: ['--null', '--interactive', '--no-run-if-empty', '--verbose', '--exit', '--open-tty', '--show-limits', '--eof', '--replace'],
  }),
  command: W({ flagShort: 'pvV' }),
  builtin: W({}),
  exec: W({ valueShort: 'a', flagShort: 'cl' }),
  stdbuf: W({ valueShort: 'ioe', valueLong: ['--input', '--output', '--error'] }),
  time: W({
    valueShort: 'fo',
    flagShort: 'apqvV',
    valueLong: ['--format', '--output'],
    flagLong: ['--append', '--verbose', '--portability', '--quiet'],
  }),
  setsid: W({ flagShort: 'cfw', flagLong: ['--ctty', '--fork', '--wait'] }),
  chroot: W({ valueLong: ['--userspec', '--groups'], flagLong: ['--skip-chdir'], leadingPositionals: 1, emptyIsShell: true }),
  flock: W({
    valueShort: 'wE',
    flagShort: 'sxunoFe',
    valueLong: ['--timeout', '--wait', '--conflict-exit-code'],
    flagLong: ['--shared', '--exclusive', '--unlock', '--nonblock', '--nb', '--close', '--no-fork', '--verbose'],
    stringShort: 'c',
    stringLong: ['--command'],
    leadingPositionals: 1,
  }),
  watch: W({
    valueShort: 'nq',
    flagShort: 'bcdegtwpx',
    valueLong: ['--interval', '--differences', '--equexit'],
    flagLong: [
      '--beep',
      '--color',
      '--no-color',
      '--errexit',
      '--chgexit',
      '--no-title',
      '--no-wrap',
      '--precise',
      '--exec',
      '--no-linewrap',
    ],
    joinsToShell: true,
  }),
  unbuffer: W({ flagShort: 'p' }),
  busybox: W({}),
  caffeinate: W({ flagShort: 'dimsu', valueShort: 'tw' }),
  strace: W({ valueShort: 'abeEIoOpPsSuUX', flagShort: 'cCdDfFhiknqrtTvVwxyz', valueLong: ['--output', '--signal', '--trace', '--user'] }),
  ltrace: W({ valueShort: 'aAeElnopsuwxX', flagShort: 'bcCdfhiLrStTV', valueLong: ['--output'] }),
  // ssh joins the remaining words into one string for the remote shell.
  ssh: W({ valueShort: 'BbcDEeFIiJLlmOopQRSWw', flagShort: '46AaCfGgKkMNnqsTtVvXxYy', leadingPositionals: 1, joinsToShell: true }),
  proxychains: W({ valueShort: 'f', flagShort: 'q' }),
  proxychains4: W({ valueShort: 'f', flagShort: 'q' }),
  // Scheduling / resource wrappers (class 4 of issue 15: they ran denied programs before).
  taskset: W({ flagShort: 'acpV', flagLong: ['--all-tasks', '--cpu-list', '--pid', '--version'], leadingPositionals: 1 }),
  chrt: W({
    valueShort: 'TPD',
    flagShort: 'bdfiorRapmv',
    valueLong: ['--sched-runtime', '--sched-period', '--sched-deadline'],
    flagLong: [
      '--batch',
      '--deadline',
      '--fifo',
      '--idle',
      '--other',
      '--rr',
      '--reset-on-fork',
      '--all-tasks',
      '--max',
      '--pid',
      '--verbose',
    ],
    leadingPositionals: 1,
  }),
  prlimit: W({ valueShort: 'p', flagShort: 'ehoV', valueLong: ['--pid', '--output'], flagLong: ['--noheadings', '--raw', '--verbose'] }),
  numactl: W({
    valueShort: 'CNmMpPilwbH',
    flagShort: 'aHsS',
    valueLong: ['--physcpubind', '--cpunodebind', '--membind', '--preferred', '--interleave', '--localalloc'],
    flagLong: ['--all', '--hardware', '--show'],
  }),
  setarch: W({
    flagShort: 'v3BFILRSTXZ',
    flagLong: [
      '--verbose',
      '--addr-no-randomize',
      '--uname-2.6',
      '--read-implies-exec',
      '--addr-compat-layout',
      '--mmap-page-zero',
      '--32bit',
      '--fdpic-funcptrs',
      '--short-inode',
      '--whole-seconds',
      '--sticky-timeouts',
      '--3gb',
      '--4gb',
      '--list',
    ],
    leadingPositionals: 1,
  }),
  linux32: W({ flagShort: 'v3BFILRSTXZ' }),
  linux64: W({ flagShort: 'v3BFILRSTXZ' }),
  faketime: W({ valueShort: 'm', flagShort: 'f', leadingPositionals: 1 }),
  fakeroot: W({ valueShort: 'il', flagShort: 'bsu', valueLong: ['--lib', '--faked'], flagLong: ['--unknown-is-real'] }),
  eatmydata: W({}),
  catchsegv: W({}),
  nocache: W({ valueShort: 'n' }),
  torsocks: W({ valueShort: 'aPuPp', flagShort: 'diq6' }),
  chronic: W({ flagShort: 'ev' }),
  trickle: W({ valueShort: 'udwtlnL', flagShort: 'sv' }),
  rlwrap: W({ valueShort: 'aAbcCDeEfFgGhHiIlmMnNoOpPqrRsStTuUvwWz', flagShort: '' }),
  cgexec: W({ valueShort: 'g', flagLong: ['--sticky'] }),
  runcon: W({ valueShort: 'turl', flagShort: 'c', valueLong: ['--user', '--role', '--type', '--range'], flagLong: ['--compute'] }),
  ['dbus-run-session']: W({ valueLong: ['--config-file', '--dbus-daemon'] }),
  ['xvfb-run']: W({
    valueShort: 'nlpsfe',
    flagShort: 'ah',
    valueLong: ['--server-num', '--server-args', '--auth-file', '--error-file', '--xauth-protocol'],
    flagLong: ['--auto-servernum', '--help', '--listen-tcp'],
  }),
  // Privilege / namespace wrappers: unwrapped for deny rules, and need an allowlist entry of their own.
  setpriv: W({
    valueLong: [
      '--ambient-caps',
      '--bounding-set',
      '--groups',
      '--inh-caps',
      '--pdeathsig',
      '--regid',
      '--reuid',
      '--rgid',
      '--ruid',
      '--securebits',
      '--selinux-label',
      '--apparmor-profile',
      '--landlock-access',
      '--landlock-rule',
      '--egid',
      '--euid',
    ],
    flagShort: 'd',
    flagLong: ['--clear-groups', '--dump', '--init-groups', '--keep-groups', '--no-new-privs', '--reset-env'],
  }),
  unshare: W({
    valueShort: 'SGR',
    flagShort: 'muinpUCTfrc',
    valueLong: [
      '--setuid',
      '--setgid',
      '--root',
      '--wd',
      '--propagation',
      '--map-user',
      '--map-group',
      '--map-users',
      '--map-groups',
      '--kill-child',
      '--mount-proc',
      '--monotonic',
      '--boottime',
      '--load-interp',
    ],
    flagLong: [
      '--mount',
      '--uts',
      '--ipc',
      '--net',
      '--pid',
      '--user',
      '--cgroup',
      '--time',
      '--fork',
      '--map-root-user',
      '--map-current-user',
      '--map-auto',
      '--keep-caps',
    ],
  }),
  nsenter: W({
    valueShort: 'tSGrw',
    flagShort: 'amuinpUCTFZ',
    valueLong: ['--target', '--setuid', '--setgid', '--root', '--wd', '--wdns'],
    flagLong: [
      '--all',
      '--mount',
      '--uts',
      '--ipc',
      '--net',
      '--pid',
      '--user',
      '--cgroup',
      '--time',
      '--preserve-credentials',
      '--no-fork',
      '--follow-context',
    ],
  }),
  sg: W({ leadingPositionals: 1, joinsToShell: true }),
};
