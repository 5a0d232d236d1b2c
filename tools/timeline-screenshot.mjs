// timeline-screenshot.mjs TRACE.json OUT.png VIEWER_DIR
//
// Renders an openwsk timeline (wskhost --trace) in a Chrome trace-event
// viewer running in headless Chromium and saves a PNG; run through
// tools/timeline-screenshot.sh, which installs what this needs.
//
// The viewer is the Catapult trace viewer (the viewer of chrome://tracing)
// as shipped inside a Perfetto UI build on npm (VIEWER_DIR/assets/
// catapult_trace_viewer.html; Perfetto calls it its "legacy UI").  It is
// served from 127.0.0.1 only; nothing is fetched from elsewhere.
//
// The picture zooms to the first accepted connection of the echo example:
// its accept event, its receive/send IRPs, disconnect and close, the
// socket's lifetime, and selects one receive IRP so that its arguments
// (status, IoStatus.Information) show in the panel below.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [tracePath, outPath, viewerArg] = process.argv.slice(2);
if (!tracePath || !outPath || !viewerArg) {
  console.error('usage: node timeline-screenshot.mjs TRACE.json OUT.png VIEWER_DIR');
  process.exit(2);
}

// This Catapult build draws a nestable async span that contains an 'n'
// (nestable instant) event of its own id as a zero-width tick, so the
// IRPs' "pending" marks are left out of the copy it is given.
const trace = JSON.parse(fs.readFileSync(tracePath, 'utf8'));
trace.traceEvents = trace.traceEvents.filter(e => e.ph !== 'n');

const viewerDir = path.resolve(viewerArg);
const traceText = JSON.stringify(trace);
const types = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json' };
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/trace.json') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(traceText);
  }
  const file = path.join(viewerDir, path.normalize(url.pathname));
  if (!file.startsWith(viewerDir + path.sep) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
    res.writeHead(404);
    return res.end();
  }
  res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'timeline-shot-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1600, height: 900 },
  // Without the background-networking flags Chromium keeps trying to reach
  // Google's services, which this machine refuses.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = browser.pages()[0] || await browser.newPage();
  page.on('pageerror', e => console.error('viewer error:', e.message));
  await page.goto(`http://127.0.0.1:${port}/assets/catapult_trace_viewer.html`);
  await page.waitForFunction(() => document.querySelector('x-profiling-view') !== null);
  await page.evaluate(async () => {
    const text = await (await fetch('/trace.json')).text();
    document.querySelector('x-profiling-view').setActiveTrace('echo.json', text);
  });
  await page.waitForFunction(() => {
    const view = document.querySelector('x-profiling-view').timelineView;
    return view && view.model && view.trackView;
  }, null, { timeout: 30000 });
  await page.waitForTimeout(1000);
  const shown = await page.evaluate(() => {
    // The WebComponents V0 polyfill warning is about features the picture
    // does not use.
    for (const el of Array.from(document.querySelectorAll('*'))) {
      if (el.children.length === 0 && /WebComponentsV0 polyfill/.test(el.textContent || '')) {
        let box = el;
        while (box.parentElement && box.parentElement !== document.body &&
               (box.parentElement.textContent || '').length < 400) box = box.parentElement;
        box.style.display = 'none';
      }
    }
    const timeline = document.querySelector('x-profiling-view').timelineView;
    const trackView = timeline.trackView;
    // Catapult shifts the trace's times, so the window is found in its model:
    // the first accepted socket's lifetime, with a margin.
    const events = Array.from(timeline.model.getDescendantEvents());
    const sockets = events.filter(e => e.category === 'socket' && e.args && e.args.kind === 'accepted')
      .sort((x, y) => x.start - y.start);
    if (sockets.length === 0) return { error: 'no accepted socket in the trace: is this the echo example?' };
    const socket = sockets[0];
    const startMs = socket.start - 0.015;
    const endMs = socket.start + socket.duration + 0.010;
    const viewport = trackView.viewport;
    const transform = new tr.ui.TimelineDisplayTransform();
    transform.set(viewport.currentDisplayTransform);
    transform.xSetWorldBounds(startMs, endMs, trackView.modelTrackContainer_.canvas.width);
    viewport.setDisplayTransformImmediately(transform);
    // Select the socket's second receive IRP (the first line echoed back)
    // so that its arguments show in the panel below the tracks.
    const receives = events.filter(e => e.category === 'irp' && e.title === 'WskReceive' &&
      e.args && e.args.socket === socket.args.socket &&
      e.start >= socket.start && e.start <= socket.start + socket.duration)
      .sort((x, y) => x.start - y.start);
    const pick = receives[1] || receives[0];
    if (pick) trackView.brushingStateController.changeSelectionFromTimeline(new tr.model.EventSet([pick]));
    return { startMs, endMs, selected: pick ? `${pick.title} at ${pick.start} ms` : 'none' };
  });
  if (shown.error) throw new Error(shown.error);
  console.log(`window ${shown.startMs}..${shown.endMs} ms (viewer's times), selected: ${shown.selected}`);
  await page.waitForTimeout(1500);
  await page.screenshot({ path: outPath });
} finally {
  await browser.close();
  server.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
