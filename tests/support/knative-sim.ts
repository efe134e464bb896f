import type { Kube } from './kube.ts';
export class KnativeSim { ingressUrl = ''; metricsUrl = ''; domain = 'example.com'; constructor(_o: { kube: Kube; cluster: string; log?: (m: string) => void }) {} async start() {} async stop() {} }
