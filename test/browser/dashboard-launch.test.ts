// The browser the page tests drive: it starts, renders a page and runs its script.
import { launchBrowser } from '../support/browser';

test('a headless Chromium starts and runs a page script', async () => {
  const browser = await launchBrowser();
  if (browser === null) return;
  try {
    const page = await browser.newPage();
    await page.setContent('<p id="out"></p><script>document.getElementById("out").textContent = String(6 * 7);</script>');
    expect(await page.textContent('#out')).toBe('42');
  } finally {
    await browser.close();
  }
});
