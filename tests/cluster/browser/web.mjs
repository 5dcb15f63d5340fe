// Browser test of the web pages and the operator console, driven by
// tests/cluster/tests/web.rs against a real cluster through its load balancer.
// Environment: PINCHWORK_URL (the balancer), PINCHWORK_ADMIN_KEY, ARTIFACTS
// (where screenshots go), CHROMIUM (default /usr/bin/chromium).
// Asserts as it goes; exits non-zero on the first failure.
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { strict as assert } from "node:assert";
import { chromium } from "playwright-core";

const base = process.env.PINCHWORK_URL;
const adminKey = process.env.PINCHWORK_ADMIN_KEY;
const artifacts = process.env.ARTIFACTS ?? "run/browser";
assert.ok(base && adminKey, "PINCHWORK_URL and PINCHWORK_ADMIN_KEY are required");
mkdirSync(artifacts, { recursive: true });
const origin = new URL(base).origin;

const step = (text) => console.log(`[browser] ${text}`);

async function api(method, path, key, body) {
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function ok(method, path, key, body, status = 200) {
  const res = await api(method, path, key, body);
  assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
  return res.body;
}

async function eventually(what, check, tries = 150) {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// A webhook receiver of the test's own.
const received = [];
const receiver = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    received.push({ id: req.headers["x-pinchwork-event-id"], body });
    res.writeHead(200).end("ok");
  });
});
await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
const receiverUrl = `http://127.0.0.1:${receiver.address().port}/hook`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();

// Nothing may leave the host: every request the pages make goes to the cluster.
const foreign = [];
context.on("request", (req) => {
  if (new URL(req.url()).origin !== origin) foreign.push(req.url());
});
const problems = [];
page.on("console", (msg) => {
  if (msg.type() === "error") problems.push(`${page.url()}: ${msg.text()}`);
});
page.on("response", (res) => {
  if (res.status() === 404) problems.push(`404 ${res.url()}`);
});

let shots = 0;
async function shot(name) {
  shots += 1;
  const file = `${artifacts}/${String(shots).padStart(2, "0")}-${name}.png`;
  await page.screenshot({ path: file, fullPage: true });
  step(`screenshot ${file}`);
}

// Lighthouse-style basics: a title, a lang, a label for every input.
async function checkBasics() {
  const facts = await page.evaluate(() => {
    const unlabelled = [...document.querySelectorAll("input, select, textarea")]
      .filter((el) => el.type !== "hidden")
      .filter((el) => !(el.id && document.querySelector(`label[for="${el.id}"]`)) &&
        !el.getAttribute("aria-label") && !el.closest("label"))
      .map((el) => el.name || el.outerHTML);
    return { title: document.title, lang: document.documentElement.lang, unlabelled };
  });
  const where = page.url();
  assert.ok(facts.title.trim().length > 0, `${where}: no title`);
  assert.ok(facts.lang, `${where}: no lang`);
  assert.deepEqual(facts.unlabelled, [], `${where}: inputs without labels`);
}

async function visit(path) {
  const res = await page.goto(`${base}${path}`);
  assert.ok(res.ok(), `${path}: HTTP ${res.status()}`);
  await checkBasics();
}

const suffix = Date.now().toString(36);
const poster = await ok("POST", "/v1/register", null,
  { name: `poster-${suffix}`, good_at: "summaries" }, 201);
const worker = await ok("POST", "/v1/register", null,
  { name: `reviewer-${suffix}`, good_at: "careful code review in Rust" }, 201);
const { task_id: taskId } = await ok("POST", "/v1/tasks", poster.api_key,
  { need: "Review this function for off-by-one errors", max_credits: 30, tags: ["code-review"] }, 201);

step("front page: figures change without a reload when a task is completed");
await visit("/");
assert.equal(new URL(page.url()).pathname, "/human", "a browser's / shows the human page");
const completed = page.locator('[data-figure="completed"]');
const before = Number(await completed.textContent());
await shot("front-page");
let navigations = 0;
page.on("framenavigated", (frame) => { if (frame === page.mainFrame()) navigations += 1; });
await ok("POST", `/v1/tasks/${taskId}/pickup`, worker.api_key);
await ok("POST", `/v1/tasks/${taskId}/deliver`, worker.api_key, { result: "Line 3 loops once too often." });
await ok("POST", `/v1/tasks/${taskId}/approve`, poster.api_key, { rating: 5 });
await page.waitForFunction(
  (n) => Number(document.querySelector('[data-figure="completed"]').textContent) === n,
  before + 1, { timeout: 30000 });
assert.equal(navigations, 0, "the figures changed without a reload");
await shot("front-page-updated");

step("phone-sized front page");
await page.setViewportSize({ width: 390, height: 844 });
await shot("front-page-phone");
await page.setViewportSize({ width: 1280, height: 900 });

step("task page shows the timeline");
await visit(`/human/tasks/${taskId}`);
const timeline = await page.locator("ol.timeline").textContent();
for (const s of ["Posted", "Claimed", "Delivered", "Approved"]) assert.ok(timeline.includes(s), `timeline: ${s}`);
assert.ok(!(await page.content()).includes("Line 3 loops"), "no result on the public page");
await shot("task-page");

step("directory search finds an agent");
await visit("/human/agents");
await page.getByLabel("Search by name or skills").fill("careful code review");
await page.getByRole("button", { name: "Search" }).click();
await page.waitForURL(/q=careful/);
await checkBasics();
await page.getByRole("link", { name: `reviewer-${suffix}` }).click();
await page.waitForURL(new RegExp(`/human/agents/${worker.agent_id}`));
await checkBasics();
await shot("agent-page");
await page.goBack();
await shot("directory-search");

for (const path of ["/skill.md", "/terms"]) await visit(path);
await shot("guide");

step("console: sign in");
await visit("/admin");
await page.getByLabel("Admin key").fill(adminKey);
await page.getByRole("button", { name: "Sign in" }).click();
await page.waitForURL(`${base}/admin`);
await checkBasics();
await shot("console-overview");

step("console: suspend an agent; its next API call gets 403");
await page.getByLabel("Find an agent").fill(`reviewer-${suffix}`);
await page.getByRole("button", { name: "Search" }).click();
await checkBasics();
await page.getByRole("link", { name: `reviewer-${suffix}` }).click();
await page.waitForURL(new RegExp(`/admin/agents/${worker.agent_id}`));
await checkBasics();
await page.getByLabel("Reason").first().fill("browser test");
await page.getByRole("button", { name: "Suspend" }).click();
await page.waitForURL(/done=suspended/);
assert.ok((await page.locator("#state").textContent()).includes("suspended"));
assert.equal((await api("GET", "/v1/me", worker.api_key)).status, 403);
await page.getByRole("button", { name: "Unsuspend" }).click();
await page.waitForURL(/done=unsuspended/);
assert.equal((await api("GET", "/v1/me", worker.api_key)).status, 200);

step("console: grant credits, visible in the ledger");
const balance = (await ok("GET", "/v1/me", worker.api_key)).credits;
await page.getByLabel("Amount").fill("42");
await page.getByLabel("Reason", { exact: true }).last().fill("browser-grant");
await page.getByRole("button", { name: "Grant" }).click();
await page.waitForURL(/done=granted/);
const ledgerRow = await page.locator("#ledger tbody tr").first().textContent();
assert.ok(ledgerRow.includes("42") && ledgerRow.includes("browser-grant"), ledgerRow);
assert.equal((await ok("GET", "/v1/me", worker.api_key)).credits, balance + 42);
await shot("console-agent");

step("console: a form post without the CSRF token is refused");
const forged = await page.evaluate(async (path) => {
  const res = await fetch(path, { method: "POST", body: new URLSearchParams({ amount: "1000" }) });
  return res.status;
}, `/admin/agents/${worker.agent_id}/grant`);
assert.equal(forged, 403);
assert.equal((await ok("GET", "/v1/me", worker.api_key)).credits, balance + 42);

step("console: deliver a failed webhook again; the receiver gets it");
// The poster's endpoint refuses connections (a closed port), so its next
// event fails (the cluster allows no retries) ...
const closed = createServer();
await new Promise((r) => closed.listen(0, "127.0.0.1", r));
const closedUrl = `http://127.0.0.1:${closed.address().port}/hook`;
await new Promise((r) => closed.close(r));
await ok("PATCH", "/v1/me", poster.api_key, { webhook_url: closedUrl });
const { task_id: second } = await ok("POST", "/v1/tasks", poster.api_key,
  { need: "Second task, to fail a webhook", max_credits: 5 }, 201);
await ok("POST", `/v1/tasks/${second}/pickup`, worker.api_key);
await ok("POST", `/v1/tasks/${second}/deliver`, worker.api_key, { result: "done" });
const failed = await eventually("a failed delivery", async () => {
  const list = await ok("GET", "/v1/me/webhooks/deliveries", poster.api_key);
  return list.deliveries.find((d) => d.status === "failed");
});
// ... then the endpoint is fixed and the operator delivers it again.
await ok("PATCH", "/v1/me", poster.api_key, { webhook_url: receiverUrl });
await visit(`/admin/webhooks?agent=${poster.agent_id}`);
await shot("console-webhooks");
const row = page.locator("table.deliveries tr", { hasText: String(failed.delivery_id) });
await row.getByRole("button", { name: "Deliver again" }).click();
await page.waitForURL(/done=redelivered/);
await eventually("the receiver to get the event", async () =>
  received.find((r) => r.id === failed.event_id));

step("console: the cluster page reads every instance");
await visit("/admin/cluster");
const cluster = await page.locator("main").textContent();
for (const name of ["api-1", "api-2", "webhooks-1", "sse-relay-1", "matcher-1", "deadlines-1"]) {
  assert.ok(cluster.includes(name), `cluster page lists ${name}`);
}
assert.ok(!cluster.includes("down"), "every instance is healthy");
await shot("console-cluster");
await visit(`/admin/tasks/${taskId}`);
await shot("console-task");

step("console: sign out");
await page.getByRole("button", { name: "Sign out" }).click();
await page.waitForURL(`${base}/admin`);
assert.ok(await page.getByLabel("Admin key").isVisible());

assert.deepEqual(foreign, [], "requests that left the host");
// The forged post's 403 is the one expected failure.
assert.deepEqual(problems.filter((p) => !p.includes("status of 403")), [],
  "console errors (CSP violations, script errors) or missing resources");
await browser.close();
receiver.close();
step(`passed (${shots} screenshots in ${artifacts})`);
