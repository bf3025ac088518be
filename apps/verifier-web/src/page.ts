// The DOM side of the verifier page: reads the form, calls verify.ts, shows the verdict.

import { type PageVerdict, type SimulatorRoots, verifyBundle, verifyLive, verifyOffline } from './verify.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

async function fileBytes(id: string): Promise<Uint8Array | undefined> {
  const f = $<HTMLInputElement>(id).files?.[0];
  return f ? new Uint8Array(await f.arrayBuffer()) : undefined;
}

function text(tag: string, content: string, className?: string): HTMLElement {
  const el = document.createElement(tag);
  el.textContent = content;
  if (className) el.className = className;
  return el;
}

function show(v: PageVerdict): void {
  const out = $('result');
  out.replaceChildren();
  out.dataset.verdict = v.ok ? 'valid' : 'not-valid';
  if (!v.ok) {
    out.append(text('h2', 'NOT VALID', 'bad'));
    out.append(text('p', `${v.code}${v.field ? ` (${v.field})` : ''}: ${v.message}`, 'reason'));
    return;
  }
  out.append(text('h2', v.title, v.insecure ? 'warn' : 'good'));
  const table = document.createElement('table');
  for (const [k, val] of v.rows) {
    const tr = document.createElement('tr');
    tr.append(text('th', k), text('td', val));
    tr.dataset.row = k;
    table.append(tr);
  }
  out.append(table);
  if (v.history.length) {
    out.append(text('h3', 'Manifest history (oldest first)'));
    const ul = document.createElement('ul');
    ul.id = 'history';
    for (const h of v.history) ul.append(text('li', h));
    out.append(ul);
  }
  if (v.policies.length) {
    out.append(text('h3', 'Policies (sha256)'));
    const ul = document.createElement('ul');
    ul.id = 'policies';
    for (const p of v.policies) ul.append(text('li', p));
    out.append(ul);
  }
}

function simulatorRoots(): SimulatorRoots | undefined {
  const simText = $<HTMLTextAreaElement>('simulator').value.trim();
  return simText ? (JSON.parse(simText) as SimulatorRoots) : undefined;
}

async function run(kind: 'live' | 'offline' | 'bundle'): Promise<void> {
  $('result').replaceChildren(text('p', 'Verifying…'));
  $('result').dataset.verdict = 'pending';
  try {
    if (kind === 'bundle') {
      const bytes = await fileBytes('bundle');
      if (!bytes) throw new Error('choose an evidence bundle file');
      const at = $<HTMLInputElement>('bundle-at').value.trim();
      const simulator = simulatorRoots();
      show(
        await verifyBundle(new TextDecoder().decode(bytes), {
          ...(simulator ? { simulator } : {}),
          allowInsecure: $<HTMLInputElement>('insecure').checked,
          ...(at ? { at: new Date(at) } : {}),
        }),
      );
    } else if (kind === 'live') {
      const simText = $<HTMLTextAreaElement>('simulator').value.trim();
      const manifest = await fileBytes('manifest');
      const hash = $<HTMLInputElement>('manifest-hash').value.trim();
      show(
        await verifyLive({
          coordinator: $<HTMLInputElement>('coordinator').value.trim(),
          ...(manifest ? { manifest } : {}),
          ...(hash ? { manifestHash: hash } : {}),
          ...(simText ? { simulator: JSON.parse(simText) as SimulatorRoots } : {}),
          allowInsecure: $<HTMLInputElement>('insecure').checked,
        }),
      );
    } else {
      const collateral: Record<string, Uint8Array> = {};
      for (const f of Array.from($<HTMLInputElement>('collateral').files ?? [])) {
        collateral[f.name] = new Uint8Array(await f.arrayBuffer());
      }
      const rv = $<HTMLTextAreaElement>('reference-values').value.trim();
      const at = $<HTMLInputElement>('at').value.trim();
      const [snpReport, vcek, certChain, crl, tdxQuote] = await Promise.all(
        ['snp-report', 'vcek', 'cert-chain', 'crl', 'tdx-quote'].map(fileBytes),
      );
      show(
        await verifyOffline({
          ...(snpReport ? { snpReport } : {}),
          ...(vcek ? { vcek } : {}),
          ...(certChain ? { certChain } : {}),
          ...(crl ? { crl } : {}),
          ...(tdxQuote ? { tdxQuote } : {}),
          collateral,
          ...(rv ? { referenceValues: JSON.parse(rv) as Record<string, unknown> } : {}),
          ...($<HTMLInputElement>('report-data').value.trim()
            ? { reportDataHex: $<HTMLInputElement>('report-data').value }
            : {}),
          ...(at ? { at: new Date(at) } : {}),
        }),
      );
    }
  } catch (e) {
    show({ ok: false, code: 'invalid-input', message: (e as Error).message });
  }
}

const params = new URLSearchParams(location.search);
$<HTMLInputElement>('coordinator').value = params.get('coordinator') ?? '';
$<HTMLInputElement>('manifest-hash').value = params.get('manifest-hash') ?? '';
$('verify-live').addEventListener('click', () => void run('live'));
$('verify-offline').addEventListener('click', () => void run('offline'));
$('verify-bundle').addEventListener('click', () => void run('bundle'));
