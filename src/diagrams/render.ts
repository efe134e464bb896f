/**
 * The real Mermaid renderer: mermaid's own browser bundle running in headless Chromium (Debian's
 * /usr/bin/chromium, or VPM_CHROMIUM), driven by puppeteer-core. One browser per command; every
 * diagram is parsed first (a syntax error is reported with its line) and then rendered to SVG.
 * The page can load nothing from the network: every request other than the page itself is aborted.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { OperationalError } from '../core/errors.js';
import type { MermaidDiagram } from './extract.js';

const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** Flags for a throw-away, quiet, offline headless browser. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function findChromium(env: NodeJS.ProcessEnv): string | undefined {
  if (env.VPM_CHROMIUM) return existsSync(env.VPM_CHROMIUM) ? env.VPM_CHROMIUM : undefined;
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p));
}

interface DiagramRenderResult {
  diagram: MermaidDiagram;
  ok: boolean;
  svg?: string;
  /** Line in the source file (not in the block), when the parser said where. */
  line?: number | null;
  message?: string;
}

export interface MermaidRenderer {
  render(diagrams: MermaidDiagram[]): Promise<DiagramRenderResult[]>;
  close(): Promise<void>;
}

function mermaidBundlePath(): string {
  const require = createRequire(import.meta.url);
  // The package's exports map allows './*'; its IIFE bundle defines globalThis.mermaid.
  return join(dirname(require.resolve('mermaid/package.json')), 'dist', 'mermaid.min.js');
}

export async function launchMermaidRenderer(opts: { env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<MermaidRenderer> {
  const executablePath = findChromium(opts.env);
  if (!executablePath) {
    throw new OperationalError(
      opts.env.VPM_CHROMIUM ? `VPM_CHROMIUM=${opts.env.VPM_CHROMIUM} does not exist` : 'no Chromium found to render Mermaid diagrams',
      { hint: 'install it (apt-get install -y chromium) or point VPM_CHROMIUM at a Chromium/Chrome binary' },
    );
  }
  const timeout = opts.timeoutMs ?? 60_000;
  const userDataDir = mkdtempSync(join(tmpdir(), 'vpm-chromium-'));
  const { default: puppeteer } = await import('puppeteer-core');
  let browser;
  try {
    browser = await puppeteer.launch({
      executablePath,
      ignoreDefaultArgs: true,
      args: [...CHROMIUM_ARGS, `--user-data-dir=${userDataDir}`, 'about:blank'],
      pipe: true,
      timeout,
      protocolTimeout: timeout,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
  } catch (err) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw new OperationalError(`could not start Chromium (${executablePath}): ${(err as Error).message.split('\n')[0]}`, {
      hint: 'check that the binary runs (chromium --version); set VPM_CHROMIUM to another one',
    });
  }
  const close = async () => {
    await browser.close().catch(() => undefined);
    rmSync(userDataDir, { recursive: true, force: true });
  };
  try {
    const page = await browser.newPage();
    await page.setRequestInterception(true);
    page.on('request', (req) => {
      if (req.url() === 'about:blank' || req.url().startsWith('data:')) void req.continue();
      else void req.abort();
    });
    await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body></body></html>');
    await page.addScriptTag({ path: mermaidBundlePath() });
    await page.evaluate(() => {
      (globalThis as any).mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'default' });
    });
    return {
      async render(diagrams) {
        const raw = (await page.evaluate(
          async (items: Array<{ id: string; text: string }>) => {
            const mermaid = (globalThis as any).mermaid;
            const out: Array<{ ok: boolean; svg?: string; line?: number | null; message?: string }> = [];
            for (const item of items) {
              try {
                await mermaid.parse(item.text);
                const { svg } = await mermaid.render(item.id, item.text);
                out.push({ ok: true, svg });
              } catch (e: any) {
                const message = String(e?.message ?? e);
                const hashLine = e?.hash?.loc?.first_line ?? (typeof e?.hash?.line === 'number' ? e.hash.line + 1 : undefined);
                const textLine = /line (\d+)/i.exec(message)?.[1];
                out.push({ ok: false, line: hashLine ?? (textLine ? Number(textLine) : null), message });
              }
              // Mermaid leaves its scratch elements behind on failure; the next diagram must start clean.
              const doc = (globalThis as any).document;
              doc.querySelectorAll(`#${item.id}, #d${item.id}`).forEach((n: { remove(): void }) => n.remove());
            }
            return out;
          },
          diagrams.map((d, i) => ({ id: `vpm-diagram-${i}`, text: d.text })),
        )) as Array<{ ok: boolean; svg?: string; line?: number | null; message?: string }>;
        return raw.map((r, i) => {
          const d = diagrams[i];
          if (r.ok) return { diagram: d, ok: true, svg: r.svg };
          // Block-relative line → file line (the block's first line is d.startLine).
          const line = typeof r.line === 'number' ? d.startLine + r.line - 1 : null;
          // Mermaid counts lines within the block; the report gives the file line, so drop its own.
          const message = (r.message ?? 'invalid diagram')
            .trim()
            .replace(/ on line \d+(?:, column (\d+))?/g, (_m, col?: string) => (col ? ` at column ${col}` : ''));
          return { diagram: d, ok: false, line, message };
        });
      },
      close,
    };
  } catch (err) {
    await close();
    throw new OperationalError(`Mermaid renderer failed to start in Chromium: ${(err as Error).message.split('\n')[0]}`);
  }
}
