/**
 * The doctor as an agent collector: the window is the interval between two gathers. Each gather's table (TCP
 * and UDP with tcp_info and skmeminfo, planned by collectors/gather.ts) is reduced to a DoctorSample and
 * diagnosed against the previous gather's; the findings become metrics (metrics.ts). Nothing is emitted on
 * the first gather: there is no window yet.
 */
import type { Metric } from '../model/metric.js';
import { AttributeScan } from '../outputs/socket-scan.js';
import type { SocketTable } from '../snapshot/table.js';
import type { DoctorThresholds } from './definitions.js';
import type { DoctorWindow } from './checks.js';
import { diagnose } from './doctor.js';
import { holdersOf, WantedInodes } from './holders.js';
import { readHostFacts } from './host.js';
import { findingMetrics } from './metrics.js';
import { DoctorSample } from './sample.js';

export interface DoctorCollectorOptions {
  thresholds?: DoctorThresholds;
  /** walk /proc/<pid>/fd to put process and pid labels on the points */
  processAttribution?: boolean;
}

export class DoctorCollector {
  private previous: DoctorSample | undefined;

  /** Diagnose `table` (taken at `takenAt`) against the previous call's; the findings as metrics. */
  async collect(table: SocketTable, takenAt: number, options: DoctorCollectorOptions): Promise<Metric[]> {
    const sample = new DoctorSample(table.length + 16);
    sample.addBatch(table, new AttributeScan());
    sample.takenAt = takenAt;
    sample.monotonicMs = performance.now();
    sample.host = readHostFacts();
    const a = this.previous;
    this.previous = sample;
    if (!a) return [];
    const window: DoctorWindow = { a, b: sample, elapsedMs: sample.monotonicMs - a.monotonicMs, netns: sample.host.netns };
    if (!options.processAttribution) return findingMetrics(diagnose(window, options.thresholds), takenAt);
    // as sockscope doctor does: the checks note the sockets they want holders for, a walk finds only those
    const wanted = new WantedInodes();
    window.holders = wanted;
    diagnose(window, options.thresholds);
    window.holders = wanted.inodes.size > 0 ? await holdersOf(wanted.inodes, sample.host.netns) : undefined;
    return findingMetrics(diagnose(window, options.thresholds), takenAt);
  }
}

/**
 * The collector of this thread (the agent's gather worker, or the process for in-process gathers): its state is
 * the previous gather's sample, which must live as long as the gathers do.
 */
let threadCollector: DoctorCollector | undefined;
export const doctorCollector = (): DoctorCollector => (threadCollector ??= new DoctorCollector());
