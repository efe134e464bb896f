import type { FlagDecls } from '../../cli/spec.js';

/** The manual gate of `canary start` and `release`. */
export const MANUAL_GATE_FLAGS = {
  pauseAt: {
    type: 'string',
    placeholder: '<percent>',
    description: 'hold after this step (comma list) until vpm canary resume|promote|abort; also `pause` in --steps',
  },
  pauseTimeout: { type: 'string', placeholder: '<duration>', description: 'abort to stable when a hold is not answered in time' },
} as const satisfies FlagDecls;
