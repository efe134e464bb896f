export type PrometheusHandle = { url: string; pid: number; stop(): Promise<void> };
export async function startPrometheus(_o: any): Promise<PrometheusHandle> { throw new Error('todo'); }
