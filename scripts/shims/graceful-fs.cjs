// Bundle shim: proper-lockfile only needs fs; graceful-fs's patching of fs costs start-up time on
// the chat-append hot path and its EMFILE queueing never matters for a lock directory.
module.exports = require('node:fs');
