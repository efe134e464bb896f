// Bundle shim: the hot path's libraries (sonic-boom, signal-exit) use `assert` only for argument
// checks; node's full assert module costs ~8 ms of start-up to load.
'use strict';
function assert(value, message) {
  if (!value) throw new Error(message || 'assertion failed');
}
assert.ok = assert;
assert.equal = (actual, expected, message) => {
  // eslint-disable-next-line eqeqeq
  if (actual != expected) throw new Error(message || `${actual} == ${expected}`);
};
assert.strictEqual = (actual, expected, message) => {
  if (actual !== expected) throw new Error(message || `${actual} === ${expected}`);
};
module.exports = assert;
