// Bundle shim: debug (through simple-git) tries `require('supports-color')`, an optional package
// vpm does not install; the failed lookup walks every node_modules folder up to / on each start.
// Without it debug picks its basic colours, exactly as when the package is missing.
module.exports = false;
