import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's `chromium` package (installed by .ci/run); Playwright never downloads a browser here. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export interface OpenedPage {
  page: Page;
  /** console.error messages and uncaught page errors, in order. */
  errors: string[];
  /** Every URL the page requested, the document itself included. */
  requests: string[];
  close: () => Promise<void>;
}

/**
 * Opens a local HTML file in real headless Chromium, recording console errors and every
 * request, so a test can check what a person would see and that nothing was fetched.
 */
export async function openInChromium(file: string): Promise<OpenedPage> {
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    return { page, errors, requests, close: () => browser.close() };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

/** How many elements matching `selector` Chromium laid out with a visible area. */
export async function countDrawn(page: Page, selector: string): Promise<number> {
  const boxes = await Promise.all((await page.locator(selector).all()).map((element) => element.boundingBox()));
  return boxes.filter((box) => box !== null && box.width > 0 && box.height > 0).length;
}

/** The text of each element matching `selector`, its lines (SVG tspans) joined by spaces. */
export async function textLines(page: Page, selector: string): Promise<string[]> {
  return Promise.all(
    (await page.locator(selector).all()).map(async (element) => {
      const spans = await element.locator('tspan').allTextContents();
      return spans.length > 0 ? spans.join(' ') : ((await element.textContent()) ?? '');
    }),
  );
}
