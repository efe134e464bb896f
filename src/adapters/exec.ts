/** Child processes other than git: argv only (never a shell), a filtered environment, a timeout. */
export { execaExecutor, type ExecRequest, type ExecResult, type Executor } from '../runner/executor.js';
