/** Seeded random numbers and the distributions of the balance simulator (deterministic per seed). */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { mersenne } from 'pure-rand/generator/mersenne';

/** Uniform [0, 1) draws from a Mersenne Twister seeded with `seed` (pure-rand; small seeds are well mixed). */
export function rng(seed: number): () => number {
  const g = mersenne(seed >>> 0);
  return () => uniformFloat64(g);
}

/** Exponential with the given mean. */
export function exponential(random: () => number, mean: number): number {
  return -mean * Math.log(1 - random());
}

/** Log-normal with the given median and σ of the underlying normal (Box-Muller). */
export function logNormal(random: () => number, median: number, sigma: number): number {
  const u = 1 - random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

/**
 * Lomax (Pareto type II): P(X > x) = (1 + x/scale)^-alpha. With alpha < 2 its variance is infinite:
 * most calls are short, a few last hours. The mean is scale / (alpha - 1).
 */
export function lomax(random: () => number, alpha: number, scale: number): number {
  return scale * ((1 - random()) ** (-1 / alpha) - 1);
}

/** An index drawn with the given weights (need not sum to 1). */
export function weighted(random: () => number, weights: readonly number[]): number {
  let total = 0;
  for (const w of weights) total += w;
  let x = random() * total;
  for (let i = 0; i < weights.length; i++) {
    x -= weights[i]!;
    if (x < 0) return i;
  }
  return weights.length - 1;
}
