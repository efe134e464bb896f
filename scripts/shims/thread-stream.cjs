// Bundle shim: pino loads thread-stream for worker-thread transports, which vpm never uses.
module.exports = class ThreadStream {
  constructor() {
    throw new Error('pino transports are not available in the vpm hot-path bundle');
  }
};
