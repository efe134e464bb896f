/**
 * Seeded randomness: every kill point and fuzz input derives from VPM_RELIABILITY_SEED (set per run by
 * vitest.reliability.config.ts and stored in the report), so a failing run can be replayed.
 */
import { createHash } from 'node:crypto';

const SEED = Number(process.env.VPM_RELIABILITY_SEED ?? 1);

/** A seed for one named stream (file/case), stable for a given run seed. */
export function seedFor(name: string): number {
  return createHash('sha256').update(`${SEED}:${name}`).digest().readUInt32BE(0) >>> 1;
}

/** mulberry32: small, fast, good enough to pick kill points. */
export function rng(name: string): () => number {
  let a = seedFor(name);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A trial count scaled by VPM_RELIABILITY_SCALE (default 1; e.g. 3 for a longer soak). The reporter
 * flags a run whose crash trials fall below the minimum of 200.
 */
export function scaled(base: number): number {
  const scale = Number(process.env.VPM_RELIABILITY_SCALE ?? 1);
  return Math.max(1, Math.round(base * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}
