/**
 * How the job observer lists one Milvus endpoint: one all-jobs list per poll (one RPC, but its answer holds
 * every job Milvus keeps for 24 h: 24,000 for 1,000 hourly refreshes), or one list per watched collection
 * (an RPC each, each answer short). Chosen per endpoint from what the calls measurably cost. Pure.
 */

export type ListStrategy = 'all' | 'collection';

/**
 * Smoothed cost (ms) of one call of each kind on an endpoint, from call to answer; undefined until measured.
 * `collectionMs` is one per-collection list's own time, although the observer runs a few at once: a poll's
 * duration divided by its lists said what one more collection adds to the poll, which is the concurrency (4)
 * times less than what each list costs Milvus and the operator (its CPU per call does not overlap). In a burst
 * of 10,000 resources that measure chose about 100 lists per poll and endpoint, each costing the operator
 * 0.35-0.5 ms of CPU, over one all-jobs list costing it about 16 ms (docs/scale.md, tenth round).
 */
export interface ListCosts {
  allMs?: number;
  collectionMs?: number;
  /** Jobs in the last all-jobs answer. */
  allJobs?: number;
  /**
   * Submissions of new triggers per poll that asked for the all-jobs answer (smoothed): each one a fresh answer
   * serves saves a per-collection list of its own (docs/design.md), so listing per collection costs them too.
   */
  submissionsPerPoll?: number;
}

export interface StrategyInput {
  /** Distinct collections the endpoint's watched jobs belong to (undefined: unknown for some job). */
  collections: number | undefined;
  costs: ListCosts;
  current: ListStrategy;
  /** Polls since the last all-jobs list (its cost is re-measured now and then). */
  pollsSinceAll: number;
}

/** Before a per-collection list was measured, each is assumed to cost this (an optimistic round trip). */
export const ASSUMED_COLLECTION_MS = 0.5;
/**
 * Per-collection lists are taken up when they cost less than this share of one all-jobs list (a wide margin:
 * measured costs are noisy on a busy machine, and every switch costs a poll's worth of calls)...
 */
export const SWITCH_TO_COLLECTION = 0.25;
/** ...and given up when they cost more than one all-jobs list (the gap keeps the choice from flapping). */
export const SWITCH_TO_ALL = 1;
/** In per-collection mode the all-jobs list is measured again every this many polls. */
export const REMEASURE_ALL_EVERY = 60;
/**
 * Below this cost the all-jobs list is kept whatever the alternative: one call per poll is cheap enough,
 * and fewer calls load Milvus' proxy less (a few thousand retained jobs cost about this much).
 */
export const MIN_ALL_MS_TO_SPLIT = 20;
/**
 * Below this many jobs in the all-jobs answer it is kept whatever its measured time: such an answer is small
 * (about 150 bytes a job) and cheap to scan, and on a loaded machine even a small call can take longer than
 * MIN_ALL_MS_TO_SPLIT, which alone would split a cheap list into many calls.
 */
export const MIN_ALL_JOBS_TO_SPLIT = 2_000;
/** Weight of a new measurement in the smoothed cost. */
export const COST_SMOOTHING = 0.3;

/**
 * The most collections listed one by one per poll, from the measured costs: as many as cost less than the
 * all-jobs list (a quarter of it to switch over, all of it to stay), less the lists the submissions would then
 * make on their own. 0 until the all-jobs list is measured
 * or while it is cheap or short. This is the cap: there is no fixed one (a fixed 16 forced the all-jobs list at
 * scale, where only the collections with running jobs need listing).
 */
export function collectionListCap(costs: ListCosts, current: ListStrategy): number {
  if (costs.allMs === undefined || costs.allMs < MIN_ALL_MS_TO_SPLIT) return 0;
  if (costs.allJobs !== undefined && costs.allJobs < MIN_ALL_JOBS_TO_SPLIT) return 0;
  const limit = (current === 'collection' ? SWITCH_TO_ALL : SWITCH_TO_COLLECTION) * costs.allMs;
  const affordable = Math.ceil(limit / (costs.collectionMs ?? ASSUMED_COLLECTION_MS)) - 1;
  return Math.max(0, affordable - Math.round(costs.submissionsPerPoll ?? 0));
}

export function chooseListStrategy(input: StrategyInput): ListStrategy {
  const { collections, costs, current } = input;
  if (collections === undefined || collections === 0) return 'all';
  if (current === 'collection' && input.pollsSinceAll >= REMEASURE_ALL_EVERY) return 'all';
  return collections <= collectionListCap(costs, current) ? 'collection' : 'all';
}

/** The smoothed cost after a new measurement. */
export function smoothCost(previous: number | undefined, sampleMs: number): number {
  return previous === undefined ? sampleMs : previous + COST_SMOOTHING * (sampleMs - previous);
}
