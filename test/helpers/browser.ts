/**
 * Headless Chromium for the page tests: Debian's `chromium` driven by puppeteer-core, with a
 * fresh profile per launch and every background fetch of the browser's own turned off, so
 * the only requests are the page's. `launchBrowser()` returns undefined when the browser is
 * missing outside CI (the caller skips); under CI=true a missing browser throws.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Browser, Page } from 'puppeteer-core';

export const kChromiumPath = '/usr/bin/chromium';

export const kChromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser | undefined> {
  if (!existsSync(kChromiumPath)) {
    if (process.env.CI === 'true') throw new Error(`${kChromiumPath} is missing: CI installs Debian's chromium (.ci/run) for the page tests`);
    return undefined;
  }
  const profile = await mkdtemp(join(tmpdir(), 'ultra-perf-chromium-'));
  const puppeteer = (await import('puppeteer-core')).default;
  // headless: false keeps puppeteer from adding its own --headless=…; ours is in the flags
  const browser = await puppeteer.launch({
    executablePath: kChromiumPath,
    headless: false,
    args: [...kChromiumFlags, `--user-data-dir=${profile}`],
  });
  return {
    browser,
    async close() {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** What went wrong on a page as a person would notice it: console errors and warnings, page errors, failed requests; and every URL it asked for. */
export interface PageWatch {
  problems: string[];
  requests: string[];
}

export function watchPage(page: Page): PageWatch {
  const watch: PageWatch = { problems: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') watch.problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => watch.problems.push(`page error: ${String(e)}`));
  page.on('requestfailed', (r) => {
    // the event stream is cut when the page or the browser closes: that is not a failure
    if (r.resourceType() === 'eventsource' && r.failure()?.errorText === 'net::ERR_ABORTED') return;
    watch.problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) watch.problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  page.on('request', (r) => watch.requests.push(r.url()));
  return watch;
}
