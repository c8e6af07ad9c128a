/**
 * The doctor collector's memory between gathers: the previous gather's sample, so each gather's window is the
 * interval since the last one. Kept by the thread that gathers (the agent's gather worker calls
 * doctorHistoryFor() before each gather) and handed to the collector as a host fact, as lifecycle's tracker is.
 */
import type { DoctorSample } from './sample.js';

export class DoctorHistory {
  /** the last gather's sample (undefined before the first gather) */
  previous: DoctorSample | undefined;
}

let current: DoctorHistory | undefined;

/** Keep a history while the doctor collector is asked for; forget it (and its sample's memory) when it is not. */
export function doctorHistoryFor(enabled: boolean): DoctorHistory | undefined {
  if (!enabled) current = undefined;
  else current ??= new DoctorHistory();
  return current;
}

/** The history doctorHistoryFor() keeps in this thread, if any (the gather's host fact). */
export const currentDoctorHistory = (): DoctorHistory | undefined => current;
