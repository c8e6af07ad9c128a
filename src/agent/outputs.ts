/** Every agent output, in the order the agent opens them and hands them a gather. Adding one: a file and a line here. */
import { influxdbOutput } from './influx-output.js';
import type { OutputKind } from './output.js';
import { prometheusOutput } from './prometheus-output.js';
import { stdoutOutput } from './stdout-output.js';
import { zabbixOutput } from './zabbix-output.js';
import { zabbixPassiveOutput } from './zabbix-passive-output.js';

export const OUTPUT_KINDS: readonly OutputKind[] = [prometheusOutput, influxdbOutput, zabbixOutput, zabbixPassiveOutput, stdoutOutput];
