/**
 * The invariant checker of the fault campaign (tools/chaos-campaign.ts): a pure function of what happened —
 * the triggers the campaign wrote, the jobs Milvus (the emulators) lists at the end, the attributions the
 * statuses made while the campaign ran, the final statuses, and where a secret was found — returning every
 * violation. Milvus' job list is the truth; the operator's own logs are not consulted.
 *
 * How a job is tied to a trigger without trusting the operator: every resource overrides `externalSource`
 * with a path that names the resource and its spec version (`s3://lake/<resource>/v<n>/`), so a Milvus job's
 * source says which resource and which job-shaping spec it was started for. Foreign jobs (started by the
 * campaign, outside the operator) use `s3://foreign/...`. Within one spec version (annotation bumps), a job is
 * tied to the trigger its resource's status named beside its id (run.generation, run.requestedAt), which
 * must be a trigger the campaign wrote, with the job's request, before Milvus started the job, and served by
 * no other Milvus job; a job no status was seen to name takes the newest free trigger before it.
 */

/** One trigger written by the campaign: creation, a job-shaping spec change, or a new annotation value. */
export interface TriggerRecord {
  resource: string;
  kind: 'create' | 'spec' | 'bump';
  /** The externalSource in force after this trigger (names the resource and spec version). */
  source: string;
  /** The write was sent at t0 and answered at t1 (epoch ms). */
  t0: number;
  t1: number;
  generation: number;
  requestedAt: string;
  /** The Ready reason the campaign last saw on the resource before the write (the phase it hit). */
  phaseSeen: string;
}

/** A resource of the campaign. */
export interface ResourceRecord {
  name: string;
  /** Index of the emulator it targets and the collection there. */
  emulator: number;
  collection: string;
  /** Every externalSource it ever had. */
  sources: string[];
  /** Epoch ms of the DELETE, if it was deleted. */
  deletedAt?: number;
  /** The status the API server holds at the end (absent for deleted resources). */
  finalStatus?: FinalStatus;
  /** metadata.generation and the annotation at the end. */
  finalGeneration?: number;
  finalRequestedAt?: string;
}

export interface FinalStatus {
  observedGeneration?: number;
  jobId?: string;
  state?: string;
  progress?: number;
  reason?: string;
  externalSource?: string;
  startTime?: string;
  endTime?: string;
  lastHandledRequestedAt?: string;
  run?: { generation?: number; requestedAt?: string };
  conditions?: { type: string; status: string; reason: string; message?: string }[];
}

/** A job as Milvus lists it (ids and times as decimal strings). */
export interface MilvusJob {
  emulator: number;
  jobId: string;
  collection: string;
  source: string;
  state: string;
  progress: number;
  reason: string;
  startMs: number;
  endMs: number;
}

/** A status showed `jobId` with `run.generation` and `run.requestedAt`: the trigger the operator says it serves. */
export interface JobClaim {
  resource: string;
  jobId: string;
  generation: number;
  requestedAt: string;
}

/** What the campaign recorded. */
export interface CampaignHistory {
  resources: ResourceRecord[];
  triggers: TriggerRecord[];
  /** Every job the emulators list at the end, on every campaign collection. */
  jobs: MilvusJob[];
  /** Ids of the jobs the campaign started outside the operator (accepted by Milvus). */
  foreignJobIds: string[];
  /** Every (resource, job id) a status ever showed, as jobId or in history, seen by the campaign's polls. */
  attributions: { resource: string; jobId: string }[];
  /** The trigger a status named beside a job id (status.run while status.jobId was that job). */
  claims: JobClaim[];
  /** Intervals (epoch ms) in which a fault that stops the operator or Milvus was active. */
  faultWindows: [number, number][];
  /** Places a secret was found: logs, events, statuses, metrics. */
  secretHits: { where: string; excerpt: string }[];
  settings: CheckSettings;
}

export interface CheckSettings {
  /** Longest time from the intent write to Milvus' start time of the job (RPC, persistence window). */
  submitSlackMs: number;
  /** A trigger idle this long, with its collection free and no fault active, was lost. */
  lostTriggerMs: number;
  /** After the end of a fault window, how long recovery may take (observer backoff, lease hand-over). */
  recoveryMs: number;
  /** The operator's RPC deadline: a call sent before a deletion can still start a job this much later. */
  rpcTimeoutMs: number;
}

export type ViolationKind =
  | 'unknown-job'
  | 'double-job'
  | 'job-after-deletion'
  | 'missing-job'
  | 'lost-trigger'
  | 'misattributed'
  | 'status-mismatch'
  | 'stuck'
  | 'secret-leak';

export interface Violation {
  kind: ViolationKind;
  resource?: string;
  detail: string;
}

export interface CheckResult {
  violations: Violation[];
  /** Triggers matched to exactly one Milvus job. */
  served: number;
  /** Triggers superseded by a newer one before their job was submitted (no job, by design). */
  superseded: number;
  /** Resources whose last trigger ended Stalled (with the reason) instead of a job. */
  stalled: Record<string, number>;
  operatorJobs: number;
}

/** The violations of the campaign's invariants in `h`. */
export function checkInvariants(h: CampaignHistory): CheckResult {
  const violations: Violation[] = [];
  const s = h.settings;
  const foreign = new Set(h.foreignJobIds);
  const bySource = new Map<string, ResourceRecord>();
  for (const r of h.resources) for (const src of r.sources) bySource.set(src, r);
  const jobById = new Map(h.jobs.map((j) => [`${j.emulator}|${j.jobId}`, j]));
  const claimsOf = new Map<string, JobClaim[]>();
  for (const c of h.claims) {
    const key = `${c.resource}|${c.jobId}`;
    claimsOf.set(key, [...(claimsOf.get(key) ?? []), c]);
  }
  const stalled: Record<string, number> = {};
  let served = 0;
  let superseded = 0;
  let operatorJobs = 0;

  // Every job Milvus lists is foreign or was started for a request of one resource.
  const jobsOf = new Map<string, MilvusJob[]>();
  for (const j of h.jobs) {
    if (foreign.has(j.jobId)) continue;
    const r = bySource.get(j.source);
    if (!r || r.collection !== j.collection || r.emulator !== j.emulator) {
      violations.push({
        kind: 'unknown-job',
        detail: `job ${j.jobId} on ${j.collection} with source ${j.source} matches no resource's request`,
      });
      continue;
    }
    operatorJobs++;
    const list = jobsOf.get(r.name) ?? [];
    list.push(j);
    jobsOf.set(r.name, list);
  }

  // No status ever showed a job that does not match its resource's request (collection, source).
  const seen = new Set<string>();
  for (const a of h.attributions) {
    const key = `${a.resource}|${a.jobId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const r = h.resources.find((x) => x.name === a.resource);
    if (!r) continue;
    const j = jobById.get(`${r.emulator}|${a.jobId}`);
    if (!j) continue; // never persisted (dropped inside the persistence window): no Milvus job to match
    if (foreign.has(j.jobId) || j.collection !== r.collection || !r.sources.includes(j.source)) {
      violations.push({
        kind: 'misattributed',
        resource: r.name,
        detail: `status showed job ${j.jobId} (${j.collection}, ${j.source}${foreign.has(j.jobId) ? ', foreign' : ''}) that is not ${r.name}'s request`,
      });
    }
  }

  for (const r of h.resources) {
    const triggers = h.triggers.filter((t) => t.resource === r.name).sort((a, b) => a.t0 - b.t0);
    const jobs = (jobsOf.get(r.name) ?? []).sort((a, b) => a.startMs - b.startMs);
    const matched = new Array<MilvusJob | undefined>(triggers.length).fill(undefined);
    const jobTrigger = new Map<MilvusJob, number>();
    /** Jobs already judged by their claim (matched, or a violation). */
    const judged = new Set<MilvusJob>();
    const counted: MilvusJob[] = [];
    for (const j of jobs) {
      if (r.deletedAt !== undefined && j.startMs > r.deletedAt + s.rpcTimeoutMs + s.submitSlackMs) {
        violations.push({
          kind: 'job-after-deletion',
          resource: r.name,
          detail: `job ${j.jobId} started ${j.startMs - r.deletedAt} ms after ${r.name} was deleted`,
        });
        continue;
      }
      counted.push(j);
    }
    const doubled = (j: MilvusJob, why: string): void => {
      violations.push({
        kind: 'double-job',
        resource: r.name,
        detail: `job ${j.jobId} (started ${new Date(j.startMs).toISOString()}, ${j.source}) ${why}`,
      });
    };
    // First the jobs a status tied to a trigger (run.generation and run.requestedAt beside the job id): the
    // claim must name a trigger of this resource, with the job's request, written before Milvus started the
    // job, and no other Milvus job may serve that trigger.
    for (const j of counted) {
      const mine = (claimsOf.get(`${r.name}|${j.jobId}`) ?? []).filter(
        (c, i, all) => all.findIndex((x) => x.generation === c.generation && x.requestedAt === c.requestedAt) === i,
      );
      if (mine.length === 0) continue;
      judged.add(j);
      if (mine.length > 1) {
        violations.push({
          kind: 'misattributed',
          resource: r.name,
          detail: `job ${j.jobId} was shown for ${mine.length} different triggers`,
        });
      }
      const c = mine[0]!;
      // The same (generation, annotation) can be written twice (a value set back): the newest before the job.
      const same = triggers
        .map((t, i) => ({ t, i }))
        .filter(({ t }) => t.generation === c.generation && t.requestedAt === c.requestedAt);
      const i = (same.filter(({ t }) => t.t0 < j.startMs).at(-1) ?? same[0])?.i ?? -1;
      const t = triggers[i];
      if (!t || t.source !== j.source || t.t0 >= j.startMs) {
        violations.push({
          kind: 'misattributed',
          resource: r.name,
          detail: t
            ? `job ${j.jobId} (${j.source}, started ${new Date(j.startMs).toISOString()}) was shown for trigger generation ${c.generation}/requested-at ${c.requestedAt || '-'} (${t.source}, written ${new Date(t.t0).toISOString()})`
            : `job ${j.jobId} was shown for generation ${c.generation}/requested-at ${c.requestedAt || '-'}, which no write made`,
        });
        continue;
      }
      if (matched[i]) {
        doubled(
          j,
          `serves trigger #${i} (generation ${t.generation}, requested-at ${t.requestedAt || '-'}), which job ${matched[i].jobId} already served`,
        );
        continue;
      }
      matched[i] = j;
      jobTrigger.set(j, i);
    }
    // Then the jobs no status was seen to show (a job started just before its resource was deleted, a
    // status overwritten between two polls): the newest trigger with the job's request that was written
    // before Milvus started it, between the triggers of the jobs before and after it.
    counted.forEach((j, k) => {
      if (judged.has(j)) return;
      const before = counted
        .slice(0, k)
        .map((x) => jobTrigger.get(x) ?? -1)
        .reduce((m, x) => Math.max(m, x), -1);
      const after = counted
        .slice(k + 1)
        .map((x) => jobTrigger.get(x) ?? triggers.length)
        .reduce((m, x) => Math.min(m, x), triggers.length);
      let pick = -1;
      for (let i = before + 1; i < after; i++) {
        const t = triggers[i]!;
        if (t.t0 < j.startMs && t.source === j.source && !matched[i]) pick = i;
      }
      if (pick < 0) {
        doubled(j, 'serves no trigger of its own (every trigger it could serve has its job)');
        return;
      }
      matched[pick] = j;
      jobTrigger.set(j, pick);
    });

    const last = triggers.length - 1;
    triggers.forEach((t, i) => {
      if (matched[i]) {
        served++;
        return;
      }
      if (i === last) {
        if (r.deletedAt !== undefined) return;
        const stalledCond = r.finalStatus?.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
        if (stalledCond) {
          stalled[stalledCond.reason] = (stalled[stalledCond.reason] ?? 0) + 1;
          return;
        }
        violations.push({
          kind: 'missing-job',
          resource: r.name,
          detail: `the last trigger (${t.kind}, generation ${t.generation}, requested-at ${t.requestedAt || '-'}) got no Milvus job`,
        });
        return;
      }
      superseded++;
      // A trigger with a successor and no job is superseded, unless it sat with its collection free and no
      // fault active for longer than the operator needs to submit.
      const free = longestFreeStretch(t.t1, triggers[i + 1]!.t0, busyIntervals(h, r, s));
      if (free >= s.lostTriggerMs) {
        violations.push({
          kind: 'lost-trigger',
          resource: r.name,
          detail: `trigger ${t.kind} (requested-at ${t.requestedAt || '-'}) waited ${free} ms with its collection free and got no job before the next trigger`,
        });
      }
    });

    if (r.deletedAt !== undefined) continue;
    const st = r.finalStatus;
    const ready = st?.conditions?.find((c) => c.type === 'Ready');
    const stalledCond = st?.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
    const current =
      st?.observedGeneration === r.finalGeneration && (st?.lastHandledRequestedAt ?? '') === (r.finalRequestedAt ?? '');
    if (!(ready?.status === 'True' && current) && !(stalledCond && stalledCond.reason)) {
      violations.push({
        kind: 'stuck',
        resource: r.name,
        detail: `ends neither Ready for its last trigger nor Stalled with a reason: Ready=${ready?.status}/${ready?.reason}, observedGeneration ${st?.observedGeneration} of ${r.finalGeneration}, lastHandledRequestedAt ${st?.lastHandledRequestedAt ?? '-'} of ${r.finalRequestedAt ?? '-'}`,
      });
    }
    if (st?.jobId) {
      const j = jobById.get(`${r.emulator}|${st.jobId}`);
      const mismatch: string[] = [];
      if (!j) mismatch.push(`job ${st.jobId} is not listed by Milvus`);
      else {
        if (st.state !== j.state) mismatch.push(`state ${st.state} vs ${j.state}`);
        if (st.progress !== j.progress) mismatch.push(`progress ${st.progress} vs ${j.progress}`);
        if ((st.reason ?? '') !== j.reason) mismatch.push(`reason ${st.reason} vs ${j.reason}`);
        if (st.externalSource !== j.source) mismatch.push(`externalSource ${st.externalSource} vs ${j.source}`);
        if (timeOf(st.startTime) !== j.startMs) mismatch.push(`startTime ${st.startTime} vs ${j.startMs}`);
        if (timeOf(st.endTime) !== j.endMs) mismatch.push(`endTime ${st.endTime} vs ${j.endMs}`);
      }
      if (mismatch.length > 0)
        violations.push({
          kind: 'status-mismatch',
          resource: r.name,
          detail: `final status differs from Milvus' report: ${mismatch.join('; ')}`,
        });
    }
  }

  for (const hit of h.secretHits)
    violations.push({ kind: 'secret-leak', detail: `secret found in ${hit.where}: ${hit.excerpt}` });
  return { violations, served, superseded, stalled, operatorJobs };
}

const timeOf = (v: string | undefined): number => (v ? Date.parse(v) : 0);

/** Intervals in which the resource could not be expected to submit: a job on its collection, or a fault. */
function busyIntervals(h: CampaignHistory, r: ResourceRecord, s: CheckSettings): [number, number][] {
  const out: [number, number][] = [];
  for (const j of h.jobs) {
    if (j.emulator !== r.emulator || j.collection !== r.collection) continue;
    out.push([j.startMs - s.submitSlackMs, (j.endMs || Number.MAX_SAFE_INTEGER) + s.submitSlackMs]);
  }
  for (const [a, b] of h.faultWindows) out.push([a, b + s.recoveryMs]);
  return out;
}

/** The longest stretch of [from, to] covered by none of `busy`. */
export function longestFreeStretch(from: number, to: number, busy: [number, number][]): number {
  const sorted = busy.filter(([a, b]) => b > from && a < to).sort((x, y) => x[0] - y[0]);
  let best = 0;
  let cursor = from;
  for (const [a, b] of sorted) {
    if (a > cursor) best = Math.max(best, Math.min(a, to) - cursor);
    cursor = Math.max(cursor, b);
    if (cursor >= to) break;
  }
  if (cursor < to) best = Math.max(best, to - cursor);
  return best;
}
