import { readFileSync } from 'node:fs';
import type { JournalEvent } from './local/journal';
import type { DeliveryState, LocalStore } from './local/store';
import type { WireKV, WireMetric } from './rest/batch';
import type { MlflowClient } from './rest/client';
import { TAGS } from './tags';

/** Entities sent before the cursor moves; a failed group is re-sent whole, which MLflow absorbs (see replay note). */
const GROUP_ENTITIES = 5000;

/**
 * Replays journal events of local runs into one MLflow server. Used both by live logging (the
 * delivery worker) and by `tracking:sync`. Replaying is idempotent:
 *  - the server's run is found by the tag pixelbert.localRunId before one is created, so a lost
 *    `delivery.json` or a lost create-response never makes a second copy;
 *  - the cursor (deliveredSeq) only moves after the server acknowledged; re-sent entities are
 *    absorbed by MLflow: an identical (key, value, timestamp, step) metric is stored once, an
 *    identical param value is accepted, a tag is overwritten with the same value, an artifact
 *    upload replaces the same file.
 */
export class Deliverer {
  readonly #states = new Map<string, DeliveryState>();
  readonly #experiments = new Map<string, string>();

  constructor(
    readonly client: MlflowClient,
    readonly store: LocalStore,
  ) {}

  get uri(): string {
    return this.client.uri;
  }

  /** The cached or stored progress for a run, or null if it never reached this server. */
  state(runId: string): DeliveryState | null {
    const cached = this.#states.get(runId);
    if (cached) return cached;
    const stored = this.store.readDelivery(runId)[this.uri];
    if (stored) this.#states.set(runId, stored);
    return stored ?? null;
  }

  async #experimentId(name: string): Promise<string> {
    let id = this.#experiments.get(name);
    if (id === undefined) {
      id = await this.client.getOrCreateExperiment(name);
      this.#experiments.set(name, id);
    }
    return id;
  }

  /** Makes sure the server has this run (and its parent), creating it at most once. */
  async ensureRemote(runId: string, startEvent?: JournalEvent): Promise<DeliveryState> {
    const known = this.state(runId);
    if (known) return known;
    const start = startEvent ?? this.store.readRun(runId).events[0];
    if (!start || start.type !== 'start') throw new Error(`local run ${runId} has no start event`);
    const experimentId = await this.#experimentId(start.experiment);
    const tags: Record<string, string> = { ...start.tags, [TAGS.localRunId]: runId };
    if (start.parentRunId) {
      const parent = await this.ensureRemote(start.parentRunId);
      tags[TAGS.parentRunId] = parent.remoteRunId;
    }
    const wireTags = Object.entries(tags).map(([key, value]) => ({ key, value }));
    const found = await this.client.searchRuns({
      experimentIds: [experimentId],
      filter: `tags.\`${TAGS.localRunId}\` = '${runId}'`,
      maxResults: 1,
    });
    const remote =
      found.runs[0] ??
      (await this.client.createRun({
        experimentId,
        runName: start.runName,
        startTime: start.time,
        tags: wireTags,
      }));
    // A found run may have been created by a try whose tags were cut short; re-send them (idempotent).
    if (found.runs[0]) await this.client.logBatch(remote.info.runId, { tags: wireTags });
    const state: DeliveryState = {
      remoteRunId: remote.info.runId,
      experimentId,
      artifactUri: remote.info.artifactUri,
      deliveredSeq: 0,
    };
    this.#save(runId, state);
    return state;
  }

  #save(runId: string, state: DeliveryState): void {
    this.#states.set(runId, state);
    this.store.writeDelivery(runId, this.uri, state);
  }

  /**
   * Sends the given events (in seq order; those already delivered are skipped). Returns how many
   * were sent. Throws the client's error when the server fails; the cursor then marks what is in.
   */
  async deliver(runId: string, events: JournalEvent[]): Promise<number> {
    const first = events[0];
    const state = await this.ensureRemote(runId, first?.type === 'start' ? first : undefined);
    const todo = events.filter((e) => e.seq > state.deliveredSeq);
    let sent = 0;
    let metrics: WireMetric[] = [];
    let params: WireKV[] = [];
    let tags: WireKV[] = [];
    let groupEnd = -1;
    const flushGroup = async () => {
      if (groupEnd < 0) return;
      await this.client.logBatch(state.remoteRunId, { metrics, params, tags });
      state.deliveredSeq = groupEnd;
      this.#save(runId, state);
      metrics = [];
      params = [];
      tags = [];
      groupEnd = -1;
    };
    for (const ev of todo) {
      switch (ev.type) {
        case 'start':
          break;
        case 'params':
          for (const [key, value] of Object.entries(ev.params)) params.push({ key, value });
          break;
        case 'tags':
          for (const [key, value] of Object.entries(ev.tags)) tags.push({ key, value });
          break;
        case 'metrics':
          for (const [key, value] of Object.entries(ev.values)) metrics.push({ key, value, timestamp: ev.time, step: ev.step });
          break;
        case 'artifact': {
          await flushGroup();
          const bytes = readFileSync(this.store.artifactFile(runId, ev.path));
          await this.client.uploadArtifact(state.artifactUri, ev.path, bytes);
          break;
        }
        case 'input':
          await flushGroup();
          await this.client.logInputs(state.remoteRunId, [ev.dataset]);
          break;
        case 'end':
          await flushGroup();
          await this.client.updateRun(state.remoteRunId, ev.status, ev.time);
          break;
      }
      if (ev.type === 'params' || ev.type === 'tags' || ev.type === 'metrics') {
        groupEnd = ev.seq;
        if (metrics.length + params.length + tags.length >= GROUP_ENTITIES) await flushGroup();
      } else {
        state.deliveredSeq = ev.seq;
        this.#save(runId, state);
      }
      sent++;
    }
    await flushGroup();
    return sent;
  }
}
