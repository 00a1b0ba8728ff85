// The dashboard in the browser: poll every member's GET /status, draw what each says, and send the actions of the
// forms to the member that served the page. Members are found through the member lists in the statuses (each
// names the client URL its member published), starting from this page's own origin, so the page goes on showing
// the cluster when the member that served it is down.
'use strict';

const pollEveryMs = 500;
const statusTimeoutMs = 1000;

// Member ID -> what we know: its client URL, its last status, when we heard it, and whether it answered last time.
const members = new Map();
// The rates need two readings: the counters and time of the previous one, by member ID.
const previousCounters = new Map();

function el(id) {
  return document.getElementById(id);
}

function escapeHTML(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

async function fetchStatus(url) {
  const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(statusTimeoutMs), cache: 'no-store' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

// Every member the live ones list, with the client URL they give for it; members no live one lists are removed.
function learnMembers(statuses) {
  const listed = new Map();
  for (const s of statuses) {
    for (const m of s.members || []) {
      const known = listed.get(m.id);
      if (known === undefined || (known.clientURL === '' && m.clientURL !== '')) listed.set(m.id, m);
    }
  }
  if (listed.size === 0) return;
  for (const id of [...members.keys()]) if (!listed.has(id)) members.delete(id);
  for (const [id, m] of listed) {
    const entry = members.get(id) || { id, url: '', status: null, up: false, heardAt: 0, error: 'not asked yet' };
    if (m.clientURL !== '') entry.url = m.clientURL;
    entry.learner = m.learner;
    members.set(id, entry);
  }
}

async function poll() {
  const asked = [...members.values()].filter((m) => m.url !== '');
  // The first round, or when no member is known by URL: start from the member that served the page.
  const targets = asked.length > 0 ? asked.map((m) => ({ id: m.id, url: m.url })) : [{ id: 0, url: location.origin }];
  const answers = await Promise.all(targets.map(async (t) => {
    try {
      return { target: t, status: await fetchStatus(t.url) };
    } catch (err) {
      return { target: t, error: err instanceof Error ? err.message : String(err) };
    }
  }));
  const now = Date.now();
  const statuses = answers.filter((a) => a.status !== undefined).map((a) => a.status);
  learnMembers(statuses);
  for (const a of answers) {
    const id = a.status !== undefined ? a.status.id : a.target.id;
    const m = members.get(id);
    if (m === undefined) continue;
    if (a.status !== undefined) {
      updateRates(m, a.status, now);
      Object.assign(m, { status: a.status, up: true, heardAt: now, error: '' });
    } else if (m.up || m.error === 'not asked yet') {
      Object.assign(m, { up: false, error: a.error, downSince: now });
    }
  }
  for (const m of members.values()) if (m.url === '') Object.assign(m, { up: false, error: 'its client URL is not known yet' });
  render(now);
}

function updateRates(m, status, now) {
  const c = status.counters || {};
  const prev = previousCounters.get(m.id);
  if (prev !== undefined && now > prev.at) {
    const seconds = (now - prev.at) / 1000;
    m.rates = {
      messages: Math.max(0, (c.peerMessages - prev.peerMessages) / seconds),
      proposals: Math.max(0, (c.proposals - prev.proposals) / seconds),
    };
  }
  previousCounters.set(m.id, { at: now, peerMessages: c.peerMessages, proposals: c.proposals });
}

// The leader the live members agree on: the highest term in which a live member says it leads.
function currentLeader() {
  let best = null;
  for (const m of members.values()) {
    if (m.up && m.status.role === 'leader' && (best === null || m.status.term > best.status.term)) best = m;
  }
  return best;
}

function render(now) {
  const leader = currentLeader();
  const banner = el('leader');
  banner.dataset.leader = leader === null ? '0' : String(leader.id);
  banner.dataset.term = leader === null ? '0' : String(leader.status.term);
  banner.textContent = leader === null ? 'No leader among the members that answer' : `Leader: member ${leader.id}, term ${leader.status.term}`;
  const up = [...members.values()].filter((m) => m.up).length;
  el('updated').textContent = `${up} of ${members.size} members answering, ${new Date(now).toLocaleTimeString()}`;
  const sorted = [...members.values()].sort((a, b) => a.id - b.id);
  el('members').innerHTML = sorted.map((m) => memberCard(m, leader, now)).join('');
  renderTransferTargets(sorted, leader);
}

function memberCard(m, leader, now) {
  const s = m.status;
  const role = m.up ? s.role : 'down';
  const learner = m.learner ? ' (learner)' : '';
  const head = `<h2><span>Member ${m.id}${learner} <span class="url">${escapeHTML(m.url || '?')}</span></span>`
    + `<span class="role">${escapeHTML(role)}</span></h2>`;
  const down = m.up ? '' : `<p class="down-reason">Down: ${escapeHTML(m.error)}${m.downSince ? ` (since ${new Date(m.downSince).toLocaleTimeString()})` : ''}`
    + `${s ? `; last heard ${Math.round((now - m.heardAt) / 1000)} s ago` : ''}</p>`;
  const body = s ? fields(m, s) + logTail(s) + progress(s) : '';
  const buttons = `<p>${m.learner ? `<button data-action="promote" data-id="${m.id}">Promote</button> ` : ''}`
    + `<button data-action="remove" data-id="${m.id}">Remove</button></p>`;
  const leaderAttr = m.up ? s.role : 'down';
  return `<article class="member" data-id="${m.id}" data-state="${m.up ? 'up' : 'down'}" data-role="${escapeHTML(leaderAttr)}">`
    + `${head}${down}${body}${buttons}</article>`;
}

function fields(m, s) {
  const rate = (v) => (m.rates === undefined ? '…' : v.toFixed(v < 10 ? 1 : 0));
  const pairs = [
    ['term', s.term], ['leader', s.leader || 'none'], ['vote', s.vote || 'none'], ['keys', s.keys],
    ['commit', s.commit], ['applied', s.applied], ['snapshot', s.snapshotIndex],
    ['last index', s.logTail.length > 0 ? s.logTail[s.logTail.length - 1].index : s.snapshotIndex],
    ['msgs/s', rate(m.rates ? m.rates.messages : 0)], ['proposals/s', rate(m.rates ? m.rates.proposals : 0)],
  ];
  return `<dl class="fields">${pairs.map(([k, v]) => `<dt>${k}</dt><dd data-field="${k}">${escapeHTML(v)}</dd>`).join('')}</dl>`;
}

function logTail(s) {
  if (s.logTail.length === 0) return '<h3>Log</h3><p>empty since the snapshot</p>';
  const items = s.logTail.map((e) => `<li class="${e.index <= s.commit ? 'committed' : 'uncommitted'}">`
    + `${e.index}/${e.term} ${escapeHTML(e.summary)}${e.index <= s.commit ? '' : ' (not committed)'}</li>`);
  return `<h3>Log tail (index/term)</h3><ol class="log">${items.join('')}</ol>`;
}

function progress(s) {
  const ids = Object.keys(s.progress).map(Number).sort((a, b) => a - b);
  if (ids.length === 0) return '';
  const rows = ids.map((id) => {
    const p = s.progress[id];
    const state = String(p.state).replace(/^State/, '').toLowerCase();
    return `<tr data-peer="${id}"><td>${id}</td><td>${escapeHTML(state)}</td><td>${p.match}</td><td>${p.next}</td>`
      + `<td>${p.inflight}</td><td>${p.recentActive ? 'yes' : 'no'}</td></tr>`;
  });
  return '<h3>Replication progress</h3><table><thead><tr><th>peer</th><th>state</th><th>match</th><th>next</th>'
    + `<th>inflight</th><th>active</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function renderTransferTargets(sorted, leader) {
  const select = el('transfer-to');
  const chosen = select.value;
  const voters = sorted.filter((m) => !m.learner && (leader === null || m.id !== leader.id));
  select.innerHTML = voters.map((m) => `<option value="${m.id}">member ${m.id}</option>`).join('');
  if (voters.some((m) => String(m.id) === chosen)) select.value = chosen;
}

// ## Actions, sent to the member that served the page.

function report(text, failed) {
  const out = el('action-result');
  out.textContent = text;
  out.classList.toggle('error', failed);
}

// `base` is the member to ask: the one that served the page unless said otherwise. JSON goes as text/plain, which
// the API parses all the same and a browser sends to another member without a preflight request.
async function act(description, method, path, body, base = '') {
  report(`${description}…`, false);
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: typeof body === 'string' ? { 'content-type': 'application/octet-stream' } : { 'content-type': 'text/plain' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let answer = null;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = null;
    }
    if (!res.ok) {
      const message = answer && answer.error ? `${answer.error.code}: ${answer.error.message}` : `HTTP ${res.status}`;
      report(`${description} failed: ${message}`, true);
      return;
    }
    report(`${description}: done`, false);
  } catch (err) {
    // The request may or may not have reached the member: say so, rather than that nothing happened.
    report(`${description}: no answer from ${base || location.origin} (${err instanceof Error ? err.message : err}); the outcome is unknown`, true);
  }
}

el('put-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const key = el('put-key').value;
  void act(`Put ${key}`, 'PUT', `/kv/${encodeURIComponent(key)}`, el('put-value').value);
});

el('transfer-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const to = Number(el('transfer-to').value);
  if (!to) return report('No other voter to transfer leadership to', true);
  // Only the leader can start a transfer (see kvstore/dashboard/route.ts), so ask it directly when it is known.
  const leader = currentLeader();
  void act(`Transfer leadership to member ${to}`, 'POST', '/leader/transfer', { to }, leader !== null && leader.url ? leader.url : '');
});

el('add-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const body = { peerURL: el('add-peer').value, learner: el('add-learner').checked };
  if (el('add-client').value !== '') body.clientURL = el('add-client').value;
  void act(`Add ${body.peerURL}`, 'POST', '/members', body);
});

el('members').addEventListener('click', (ev) => {
  const button = ev.target.closest('button[data-action]');
  if (button === null) return;
  const id = button.dataset.id;
  if (button.dataset.action === 'promote') void act(`Promote member ${id}`, 'POST', `/members/${id}/promote`);
  if (button.dataset.action === 'remove' && confirm(`Remove member ${id} from the cluster?`)) {
    void act(`Remove member ${id}`, 'DELETE', `/members/${id}`);
  }
});

async function loop() {
  for (;;) {
    const started = Date.now();
    try {
      await poll();
    } catch (err) {
      report(`Drawing the cluster failed: ${err instanceof Error ? err.message : err}`, true);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, pollEveryMs - (Date.now() - started))));
  }
}

void loop();
