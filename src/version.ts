/** vpm's version, reported by --version and recorded in every evidence file. */
export const VERSION = '0.1.0';
