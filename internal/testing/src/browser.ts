import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { skipReason } from './servers.js';

/** Debian's Chromium, which `scripts/setup-test-servers.sh` installs; `SKQ_CHROMIUM` names another. */
export const CHROMIUM_PATH = process.env.SKQ_CHROMIUM ?? '/usr/bin/chromium';

/** Why browser tests cannot run here (null when they can); under `CI` a missing browser fails the run. */
export function missingChromium(): string | null {
  return existsSync(CHROMIUM_PATH) ? null : skipReason(`chromium is not installed at ${CHROMIUM_PATH} (./scripts/setup-test-servers.sh installs Debian's chromium)`);
}

/**
 * Launches the machine's Chromium headless through playwright-core (Playwright's own browser
 * downloads are not used). The flags keep it off the network: without them it tries Google's
 * hosts at every start.
 *
 * @example
 * ```ts
 * const browser = await launchChromium();
 * const page = await browser.newPage();
 * ```
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}
