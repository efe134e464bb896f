// Bundle shim: simple-git builds `debug` loggers for every git command it runs (colour choice,
// terminal checks), a measurable cost on the rollback hot path for loggers that print nothing unless
// DEBUG is set. With DEBUG set, the real package is loaded and behaves exactly as usual.
'use strict';

function createDebug(namespace) {
  const log = () => undefined;
  log.namespace = namespace;
  log.enabled = false;
  log.log = log;
  log.extend = (sub, delimiter = ':') => createDebug(`${namespace}${delimiter}${sub}`);
  log.destroy = () => true;
  return log;
}
createDebug.formatters = {};
createDebug.enable = () => undefined;
createDebug.disable = () => '';
createDebug.enabled = () => false;
createDebug.default = createDebug;

module.exports = process.env.DEBUG ? require('../../node_modules/debug/src/index.js') : createDebug;
