// Bundle shim: pino reads only `isMainThread` from worker_threads (to pick a transport's exit
// hook); the hot path always runs on the main thread and never starts a transport, and loading
// worker_threads costs ~7 ms of start-up.
'use strict';
module.exports = { isMainThread: true };
