// Epoch web UI: a small single-page app over epochd's REST API. No build
// step, no dependencies; DOM built with textContent only (no innerHTML of
// data). Pages: / (topologies) and /topologies/{id} (one topology, its runs).
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// h('a', {href: '/x', class: 'y', onclick: f}, 'text', child, ...)
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// ---- session and API --------------------------------------------------------------

const session = { me: null, token: sessionStorage.getItem('epoch.token') || '' };
const canWrite = () => session.me && session.me.role !== 'READ_ONLY';

class ApiError extends Error {
  constructor(status, message, data) {
    super(message || 'HTTP ' + status);
    this.status = status;
    this.data = data;
  }
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (session.token) headers.Authorization = 'Bearer ' + session.token;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError(0, 'epochd does not answer (' + e.message + ')');
  }
  if (res.status === 401 && (res.headers.get('WWW-Authenticate') || '').startsWith('Bearer')) {
    await askForToken('');
    return api(method, path, body);
  }
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  if (!res.ok || (json && json.status === 'FAILED')) {
    throw new ApiError(res.status, (json && json.message) || text || res.statusText, json && json.data);
  }
  return json && 'data' in json ? json.data : json;
}

function askForToken(error) {
  const dlg = $('#token-dialog');
  $('#token-error').hidden = !error;
  $('#token-error').textContent = error;
  return new Promise((resolve) => {
    dlg.onclose = async () => {
      session.token = $('#f-token').value.trim();
      sessionStorage.setItem('epoch.token', session.token);
      resolve();
    };
    if (!dlg.open) dlg.showModal();
  });
}

// ---- formatting --------------------------------------------------------------------

const fmtTime = (ms) => (ms ? new Date(ms).toLocaleString() : '—');
// A run's real span: from its first task's start to its last one's end
// (now while it runs); nulls when no task started (SKIPPED, MISSED, waiting).
function runSpan(r) {
  let start = null, end = null, live = r.state === 'RUNNING';
  for (const t of Object.values(r.tasks || {})) {
    if (t.started === undefined || t.started === null) continue;
    if (start === null || t.started < start) start = t.started;
    if (t.finished === undefined || t.finished === null) live = true;
    else if (end === null || t.finished > end) end = t.finished;
  }
  if (start === null) return { start: null, end: null };
  return { start, end: live ? Date.now() : end };
}

function fmtDuration(ms) {
  if (ms === undefined || ms === null || ms < 0) return '—';
  if (ms < 1000) return ms + ' ms';
  const s = Math.round(ms / 1000);
  if (s < 60) return s + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' min ' + (s % 60) + ' s';
  const hh = Math.floor(m / 60);
  return hh + ' h ' + (m % 60) + ' min';
}
const badge = (state) => h('span', { class: 'badge b-' + state }, state ? state[0] + state.slice(1).toLowerCase() : '—');
function triggerText(t) {
  if (!t) return '—';
  if (t.type === 'AT') return 'At ' + fmtTime(t.time);
  return t.timeSpec;
}
function taskType(task) {
  return { CONTAINER_EXECUTION: 'Container', PROCESS: 'Process', COMPOSITE: 'Composite', FUNCTION: 'Function' }[task.type] || task.type;
}

function toast(message, bad) {
  const el = h('div', { class: bad ? 'bad' : '' }, message);
  $('#toast').append(el);
  setTimeout(() => el.remove(), bad ? 8000 : 4000);
}

function confirmAction(title, text, okLabel) {
  const dlg = $('#confirm-dialog');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = okLabel || 'OK';
  return new Promise((resolve) => {
    dlg.onclose = () => resolve(dlg.returnValue === 'ok');
    dlg.returnValue = '';
    dlg.showModal();
  });
}

// ---- routing -----------------------------------------------------------------------

let pageTimer = null;
function navigate(path) {
  history.pushState({}, '', path);
  route();
}
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-link]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', route);

function route() {
  clearInterval(pageTimer);
  pageTimer = null;
  const m = location.pathname.match(/^\/topologies\/([^/]+)$/);
  const main = $('#main');
  main.replaceChildren();
  if (m) topologyPage(main, decodeURIComponent(m[1]));
  else listPage(main);
}

// ---- topologies page ---------------------------------------------------------------

const list = { all: [], query: '', state: '', page: 0, size: 25, lastRuns: new Map() };

async function listPage(main) {
  document.title = 'Topologies · Epoch';
  const search = h('input', { id: 'search', type: 'search', placeholder: 'Name, image, command or cron', value: list.query });
  const state = h('select', { id: 'state-filter' },
    h('option', { value: '' }, 'All states'), h('option', { value: 'ACTIVE' }, 'Active'), h('option', { value: 'PAUSED' }, 'Paused'));
  state.value = list.state;
  const size = h('select', { id: 'page-size' }, [25, 50, 100, 500].map((n) => h('option', { value: n }, n)));
  size.value = String(list.size);
  const body = h('tbody');
  const pager = h('div', { class: 'pager' });
  const count = h('p', { class: 'muted', id: 'count', 'aria-live': 'polite' });
  main.append(
    h('h1', {}, 'Topologies'),
    h('div', { class: 'toolbar' },
      h('div', { class: 'field' }, h('label', { for: 'search' }, 'Search'), search),
      h('div', { class: 'field' }, h('label', { for: 'state-filter' }, 'State'), state),
      h('div', { class: 'field' }, h('label', { for: 'page-size' }, 'Per page'), size),
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', onclick: () => load() }, 'Refresh'),
      canWrite() && h('button', { type: 'button', class: 'primary', id: 'new-topology', onclick: () => openForm(null) }, 'New topology')),
    count,
    h('div', { class: 'table-wrap' },
      h('table', { id: 'topologies' },
        h('caption', { class: 'skip' }, 'Topologies'),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col', class: 'hide-sm' }, 'Task'),
          h('th', { scope: 'col' }, 'Trigger'), h('th', { scope: 'col', class: 'hide-sm' }, 'Time zone'),
          h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Next fire'),
          h('th', { scope: 'col' }, 'Last run'))),
        body)),
    pager);

  const matches = (d) => {
    if (list.state && d.state !== list.state) return false;
    if (!list.query) return true;
    const t = d.topology || {};
    const hay = [d.id, t.task && (t.task.executable ? t.task.executable.url : t.task.command), t.trigger && t.trigger.timeSpec]
      .join(' ').toLowerCase();
    return hay.includes(list.query.toLowerCase());
  };
  const render = () => {
    const shown = list.all.filter(matches);
    const pages = Math.max(1, Math.ceil(shown.length / list.size));
    list.page = Math.min(list.page, pages - 1);
    const slice = shown.slice(list.page * list.size, (list.page + 1) * list.size);
    count.textContent = shown.length === list.all.length
      ? list.all.length + ' topologies'
      : shown.length + ' of ' + list.all.length + ' topologies';
    body.replaceChildren(...(slice.length ? slice.map(row) : [h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No topologies.'))]));
    pager.replaceChildren(
      h('span', { class: 'muted' }, shown.length ? (list.page * list.size + 1) + '–' + (list.page * list.size + slice.length) + ' of ' + shown.length : ''),
      h('button', { type: 'button', disabled: list.page === 0, onclick: () => { list.page--; render(); } }, 'Previous'),
      h('span', {}, 'Page ' + (list.page + 1) + ' of ' + pages),
      h('button', { type: 'button', disabled: list.page >= pages - 1, onclick: () => { list.page++; render(); } }, 'Next'));
    lastRuns(slice);
  };
  const row = (d) => {
    const t = d.topology;
    const trig = t.trigger || {};
    return h('tr', { dataset: { id: d.id } },
      h('td', {}, h('a', { href: '/topologies/' + encodeURIComponent(d.id), 'data-link': true }, d.id)),
      h('td', { class: 'hide-sm' }, taskType(t.task)),
      h('td', {}, h('code', {}, triggerText(trig))),
      h('td', { class: 'hide-sm' }, trig.timeZone || 'default'),
      h('td', {}, badge(d.state)),
      h('td', {}, d.state === 'ACTIVE' ? fmtTime(d.nextFireTime) : '—'),
      h('td', { class: 'last-run' }, list.lastRuns.has(d.id) ? badge(list.lastRuns.get(d.id)) : '…'));
  };
  // The last run's state, for the rows on screen only.
  const lastRuns = (slice) => {
    for (const d of slice) {
      if (list.lastRuns.has(d.id) && !(d.liveRuns || []).length) continue;
      api('GET', '/apis/v1/topologies/' + encodeURIComponent(d.id) + '/runs?limit=1').then((runs) => {
        const s = runs && runs.length ? runs[0].state : null;
        list.lastRuns.set(d.id, s);
        const cell = $('tr[data-id="' + CSS.escape(d.id) + '"] .last-run', body);
        if (cell) cell.replaceChildren(s ? badge(s) : h('span', { class: 'muted' }, 'none'));
      }).catch(() => {});
    }
  };
  const load = async () => {
    try {
      list.all = (await api('GET', '/apis/v1/topologies')) || [];
      list.all.sort((a, b) => a.id.localeCompare(b.id));
      list.lastRuns.clear();
      render();
    } catch (e) {
      body.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'error' }, e.message)));
    }
  };
  search.addEventListener('input', () => { list.query = search.value; list.page = 0; render(); });
  state.addEventListener('change', () => { list.state = state.value; list.page = 0; render(); });
  size.addEventListener('change', () => { list.size = Number(size.value); list.page = 0; render(); });
  await load();
}

// ---- one topology ------------------------------------------------------------------

async function topologyPage(main, id) {
  document.title = id + ' · Epoch';
  const view = { details: null, runs: [], cursors: [null], page: 0, size: 20, expanded: new Set(), auto: true };
  const title = h('h1', {}, id);
  const actions = h('div', { class: 'toolbar', id: 'actions' });
  const facts = h('dl', { class: 'facts' });
  const spec = h('pre', { class: 'spec', id: 'spec', tabindex: '0' });
  const chart = h('div', { class: 'chart', id: 'chart' });
  const runsBody = h('tbody');
  const pager = h('div', { class: 'pager' });
  const auto = h('input', { type: 'checkbox', id: 'auto-refresh', checked: true });
  main.append(
    h('p', {}, h('a', { href: '/', 'data-link': true }, '← All topologies')),
    title, actions,
    h('div', { class: 'grid' },
      h('section', { 'aria-labelledby': 'about-title' },
        h('div', { class: 'card' }, h('h2', { id: 'about-title' }, 'Schedule'), facts),
        h('div', { class: 'card' }, h('details', {}, h('summary', {}, 'Specification (JSON)'), spec))),
      h('section', { 'aria-labelledby': 'runs-title' },
        h('div', { class: 'card' },
          h('h2', { id: 'runs-title' }, 'Runs'),
          chart,
          h('div', { class: 'toolbar' },
            h('label', {}, auto, ' Refresh every 3 s'),
            h('button', { type: 'button', onclick: () => loadRuns() }, 'Refresh')),
          h('div', { class: 'table-wrap' },
            h('table', { id: 'runs' },
              h('caption', { class: 'skip' }, 'Runs of ' + id),
              h('thead', {}, h('tr', {},
                h('th', { scope: 'col', class: 'expander' }, h('span', { class: 'skip' }, 'Tasks')),
                h('th', { scope: 'col' }, 'Run'), h('th', { scope: 'col', class: 'hide-sm' }, 'Type'),
                h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Due'),
                h('th', { scope: 'col' }, 'Duration'), h('th', { scope: 'col', class: 'hide-sm' }, 'Message'))),
              runsBody)),
          pager))));
  auto.addEventListener('change', () => { view.auto = auto.checked; });

  const enc = encodeURIComponent(id);
  const loadTopology = async () => {
    const d = await api('GET', '/apis/v1/topologies/' + enc);
    if (!d) throw new ApiError(404, 'No topology ' + id);
    view.details = d;
    renderTopology();
  };
  const renderTopology = () => {
    const d = view.details;
    const t = d.topology;
    title.replaceChildren(d.id, ' ', badge(d.state));
    const trig = t.trigger || {};
    facts.replaceChildren(
      h('dt', {}, 'Trigger'), h('dd', {}, h('code', {}, triggerText(trig))),
      h('dt', {}, 'Meaning'), h('dd', { id: 'cron-words' }, '…'),
      h('dt', {}, 'Time zone'), h('dd', {}, trig.timeZone || 'server default'),
      h('dt', {}, 'Next fire'), h('dd', { id: 'next-fire' }, d.state === 'ACTIVE' ? fmtTime(d.nextFireTime) : 'paused'),
      h('dt', {}, 'Last fire'), h('dd', {}, fmtTime(d.lastFireTime)),
      h('dt', {}, 'Task'), h('dd', {}, taskType(t.task) + ': ' + taskSummary(t.task)),
      h('dt', {}, 'Created'), h('dd', {}, fmtTime(d.created)),
      h('dt', {}, 'Updated'), h('dd', {}, fmtTime(d.updated)));
    if (trig.type === 'CRON') {
      const q = 'expr=' + encodeURIComponent(trig.timeSpec) + (trig.timeZone ? '&tz=' + encodeURIComponent(trig.timeZone) : '') + '&n=1';
      api('GET', '/apis/v1/cron/next?' + q).then((r) => { $('#cron-words').textContent = r.description; })
        .catch((e) => { $('#cron-words').textContent = e.message; });
    } else {
      $('#cron-words').textContent = 'once';
    }
    spec.textContent = JSON.stringify(d, null, 2);
    actions.replaceChildren();
    if (canWrite()) {
      actions.append(
        h('button', { type: 'button', class: 'primary', id: 'run-now', onclick: runNow }, 'Run now'),
        d.state === 'ACTIVE'
          ? h('button', { type: 'button', id: 'pause', onclick: () => setPaused(true) }, 'Pause')
          : h('button', { type: 'button', id: 'resume', onclick: () => setPaused(false) }, 'Resume'),
        h('button', { type: 'button', id: 'edit', onclick: () => openForm(view.details, () => loadTopology()) }, 'Edit'),
        h('button', { type: 'button', class: 'danger', id: 'delete', onclick: remove }, 'Delete'));
    }
  };
  const runNow = async () => {
    try {
      await api('PUT', '/apis/v1/topologies/' + enc + '/run');
      toast('Run started');
      setTimeout(loadRuns, 300);
    } catch (e) { toast(e.message, true); }
  };
  const setPaused = async (pause) => {
    if (!(await confirmAction(pause ? 'Pause ' + id + '?' : 'Resume ' + id + '?',
      pause ? 'It will not fire until resumed; fires in between are skipped.' : 'It fires again from its next time.',
      pause ? 'Pause' : 'Resume'))) return;
    try {
      await api('PUT', '/apis/v1/topologies/' + enc + (pause ? '/pause' : '/unpause'));
      toast(pause ? 'Paused' : 'Resumed');
      await loadTopology();
    } catch (e) { toast(e.message, true); }
  };
  const remove = async () => {
    if (!(await confirmAction('Delete ' + id + '?', 'You will not be able to undo this. Its runs are deleted too.', 'Delete'))) return;
    try {
      await api('DELETE', '/apis/v1/topologies/' + enc);
      toast('Deleted ' + id);
      navigate('/');
    } catch (e) { toast(e.message, true); }
  };

  const loadRuns = async () => {
    const cursor = view.cursors[view.page];
    let q = '?limit=' + view.size;
    if (cursor) q += '&before=' + encodeURIComponent(cursor);
    try {
      view.runs = (await api('GET', '/apis/v1/topologies/' + enc + '/runs' + q)) || [];
      renderRuns();
    } catch (e) {
      runsBody.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'error' }, e.message)));
    }
  };
  const renderRuns = () => {
    const rows = [];
    for (const r of view.runs) {
      const open = view.expanded.has(r.runId);
      const span = runSpan(r);
      const due = r.scheduledTime || r.created;
      rows.push(h('tr', { dataset: { run: r.runId } },
        h('td', {}, h('button', {
          type: 'button', class: 'small', 'aria-expanded': String(open), 'aria-label': (open ? 'Hide' : 'Show') + ' tasks of ' + r.runId,
          onclick: () => { open ? view.expanded.delete(r.runId) : view.expanded.add(r.runId); renderRuns(); },
        }, open ? '−' : '+')),
        h('td', {}, h('code', {}, r.runId)),
        h('td', { class: 'hide-sm' }, r.runType === 'INSTANT' ? 'Instant' : 'Scheduled'),
        h('td', {}, badge(r.state)),
        h('td', {}, fmtTime(due)),
        h('td', { title: span.start === null ? 'no task started' : 'started ' + fmtTime(span.start) },
          span.start === null ? '—' : fmtDuration(span.end - span.start)),
        h('td', { class: 'hide-sm' }, r.reason || r.message || '')));
      if (open) rows.push(h('tr', { class: 'tasks' }, h('td', { colspan: 7 }, tasksTable(r))));
    }
    runsBody.replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No runs yet.'))]));
    const more = view.runs.length === view.size;
    pager.replaceChildren(
      h('button', { type: 'button', disabled: view.page === 0, onclick: () => { view.page--; loadRuns(); } }, 'Newer'),
      h('span', {}, 'Page ' + (view.page + 1)),
      h('button', { type: 'button', disabled: !more, onclick: () => {
        view.cursors[view.page + 1] = new Date(view.runs[view.runs.length - 1].updated).toISOString();
        view.page++;
        loadRuns();
      } }, 'Older'));
    if (view.page === 0) drawChart(chart, view.runs);
  };
  const tasksTable = (r) => h('table', {},
    h('caption', { class: 'skip' }, 'Tasks of ' + r.runId),
    h('thead', {}, h('tr', {}, ['Task', 'State', 'Task id', 'Error', ''].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, Object.entries(r.tasks || {}).map(([name, t]) => h('tr', { dataset: { task: name } },
      h('td', {}, name), h('td', {}, badge(t.state)), h('td', {}, h('code', {}, t.taskId)),
      h('td', {}, t.errorMessage || ''),
      h('td', {},
        h('button', { type: 'button', class: 'small', onclick: () => openLog(id, r.runId, name) }, 'Log'), ' ',
        canWrite() && !['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(t.state) &&
          h('button', { type: 'button', class: 'small danger', onclick: () => kill(r.runId, name) }, 'Kill'))))));
  const kill = async (runId, task) => {
    if (!(await confirmAction('Kill ' + task + '?', 'The task of run ' + runId + ' is stopped.', 'Kill'))) return;
    try {
      await api('POST', '/apis/v1/topologies/' + enc + '/runs/' + encodeURIComponent(runId) + '/tasks/' + encodeURIComponent(task) + '/kill');
      toast('Kill sent');
      setTimeout(loadRuns, 500);
    } catch (e) { toast(e.message, true); }
  };

  try {
    await loadTopology();
  } catch (e) {
    main.replaceChildren(h('h1', {}, id), h('p', { class: 'error' }, e.status === 404 || e.status === 200 ? 'No topology named ' + id + '.' : e.message),
      h('p', {}, h('a', { href: '/', 'data-link': true }, 'All topologies')));
    return;
  }
  await loadRuns();
  pageTimer = setInterval(() => {
    if (!view.auto || document.hidden || $('dialog[open]')) return;
    loadRuns();
    loadTopology().catch(() => {});
  }, 3000);
}

function taskSummary(task) {
  if (task.type === 'CONTAINER_EXECUTION') return task.executable ? task.executable.url : '';
  if (task.type === 'PROCESS') return [task.command, ...(task.args || [])].join(' ');
  if (task.type === 'FUNCTION') return 'job ' + task.job;
  if (task.type === 'COMPOSITE') return (task.compositionType || 'ALL') + ' of ' + (task.tasks || []).map((t) => t.taskName || t.type).join(', ');
  return '';
}

// Bars: one per run (oldest left), height = duration, colour = outcome.
function drawChart(box, runs) {
  const data = runs.slice(0, 30).reverse();
  const colors = { SUCCESSFUL: '#16a34a', COMPLETED: '#16a34a', FAILED: '#dc2626', RUNNING: '#2563eb', SKIPPED: '#d97706', MISSED: '#d97706' };
  if (!data.length) { box.replaceChildren(); return; }
  const ns = 'http://www.w3.org/2000/svg';
  const durations = data.map((r) => { const s = runSpan(r); return s.start === null ? 0 : Math.max(0, s.end - s.start); });
  const max = Math.max(...durations, 1);
  const svg = document.createElementNS(ns, 'svg');
  const w = 600, hgt = 90, bw = w / 30;
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  const counts = {};
  data.forEach((r, i) => {
    counts[r.state] = (counts[r.state] || 0) + 1;
    const bar = document.createElementNS(ns, 'rect');
    const bh = Math.max(3, (durations[i] / max) * (hgt - 4));
    bar.setAttribute('x', String(i * bw + 2));
    bar.setAttribute('y', String(hgt - bh));
    bar.setAttribute('width', String(bw - 4));
    bar.setAttribute('height', String(bh));
    bar.setAttribute('fill', colors[r.state] || '#9aa5b1');
    const tip = document.createElementNS(ns, 'title');
    tip.textContent = r.runId + ': ' + r.state + ', ' + fmtDuration(durations[i]);
    bar.append(tip);
    svg.append(bar);
  });
  const summary = Object.entries(counts).map(([s, n]) => n + ' ' + s.toLowerCase()).join(', ');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'Durations of the last ' + data.length + ' runs: ' + summary + '; longest ' + fmtDuration(max));
  box.replaceChildren(svg, h('div', { class: 'legend' },
    h('span', {}, h('i', { style: null, class: 'sw-ok' }), 'Last ' + data.length + ' runs, bar height = duration (longest ' + fmtDuration(max) + '): ' + summary)));
}

// ---- the log viewer ----------------------------------------------------------------

async function openLog(topologyId, runId, task) {
  const base = '/apis/v1/topologies/' + encodeURIComponent(topologyId) + '/runs/' + encodeURIComponent(runId) + '/tasks/' + encodeURIComponent(task);
  let url;
  try {
    url = await api('GET', base + '/log');
  } catch (e) { toast(e.message, true); return; }
  if (!url) { toast('No log for ' + task, true); return; }
  if (!/\/output$/.test(new URL(url, location.href).pathname)) {
    window.open(url, '_blank', 'noopener');  // Drove's UI
    return;
  }
  const dlg = $('#log-dialog');
  const pre = $('#log-text');
  const stateEl = $('#log-state');
  $('#log-title').textContent = 'Log of ' + task + ' · ' + runId;
  let stream = 'stdout', offset = 0, stop = false, timer = null;
  const tail = async () => {
    if (stop) return;
    try {
      const headers = session.token ? { Authorization: 'Bearer ' + session.token } : {};
      const res = await fetch(base + '/output?stream=' + stream + '&offset=' + offset, { headers, credentials: 'same-origin' });
      if (!res.ok) { stateEl.textContent = 'No output (' + res.status + ')'; return; }
      const chunk = await res.text();
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(chunk);
      if (atEnd) pre.scrollTop = pre.scrollHeight;
      offset = Number(res.headers.get('X-Epoch-Next-Offset') || offset + chunk.length);
      const size = Number(res.headers.get('X-Epoch-Log-Size') || 0);
      const finished = res.headers.get('X-Epoch-Task-Finished') === 'true';
      stateEl.textContent = res.headers.get('X-Epoch-Task-State') + (finished && offset >= size ? ' · complete' : ' · following');
      if (offset < size) timer = setTimeout(tail, 0);
      else if (!finished) timer = setTimeout(tail, 1000);
    } catch (e) { stateEl.textContent = e.message; }
  };
  $$('input[name=stream]', dlg).forEach((r) => {
    r.checked = r.value === 'stdout';
    r.onchange = () => { clearTimeout(timer); stream = r.value; offset = 0; pre.textContent = ''; tail(); };
  });
  pre.textContent = '';
  dlg.onclose = () => { stop = true; clearTimeout(timer); };
  dlg.showModal();
  tail();
}

// ---- create / edit -----------------------------------------------------------------

const form = () => $('#topology-form');
let editing = null;       // the details being edited, or null
let afterSave = null;
let previewTimer = null;

function pairRow(kind, a, b, mode) {
  if (kind === 'env') {
    return h('div', { class: 'pair' },
      h('input', { 'aria-label': 'Variable name', placeholder: 'NAME', value: a || '', class: 'env-name' }),
      h('input', { 'aria-label': 'Variable value', placeholder: 'value', value: b || '', class: 'env-value' }),
      h('button', { type: 'button', class: 'small', 'aria-label': 'Remove variable', onclick: (e) => e.target.closest('.pair').remove() }, '×'));
  }
  const sel = h('select', { 'aria-label': 'Mode', class: 'vol-mode' },
    h('option', { value: 'READ_ONLY' }, 'Read only'), h('option', { value: 'READ_WRITE' }, 'Read write'));
  sel.value = mode || 'READ_ONLY';
  return h('div', { class: 'pair' },
    h('input', { 'aria-label': 'Host path', placeholder: '/path/on/host', value: a || '', class: 'vol-host' }),
    h('input', { 'aria-label': 'Path in container', placeholder: 'same as host', value: b || '', class: 'vol-container' }),
    sel,
    h('button', { type: 'button', class: 'small', 'aria-label': 'Remove volume', onclick: (e) => e.target.closest('.pair').remove() }, '×'));
}

function setKind(kind) {
  $$('input[name=kind]', form()).forEach((r) => { r.checked = r.value === kind; });
  $$('[data-kind]', form()).forEach((el) => { el.hidden = el.dataset.kind !== kind; });
}

function clearErrors() {
  $('#form-error').hidden = true;
  $$('.field-error[data-for]', form()).forEach((e) => { e.textContent = ''; });
  $$('[aria-invalid]', form()).forEach((e) => e.removeAttribute('aria-invalid'));
}

function openForm(details, done) {
  editing = details;
  afterSave = done;
  const f = form();
  f.reset();
  clearErrors();
  $('#cron-preview').replaceChildren();
  $$('.rows-body', f).forEach((b) => b.replaceChildren());
  const t = details ? details.topology : null;
  $('#form-title').textContent = details ? 'Edit ' + details.id : 'New topology';
  $('#form-submit').textContent = details ? 'Save' : 'Create';
  $('#f-name').value = details ? details.id : '';
  $('#f-name').readOnly = !!details;
  const simple = !t || t.task.type === 'CONTAINER_EXECUTION' || t.task.type === 'PROCESS';
  $('#json-mode').hidden = simple;
  $('#form-mode').hidden = !simple;
  if (!simple) {
    $('#f-json').value = JSON.stringify(t, null, 2);
  } else if (t) {
    const task = t.task;
    setKind(task.type === 'PROCESS' ? 'process' : 'container');
    const env = task.env || {};
    for (const [k, v] of Object.entries(env)) $('#env .rows-body').append(pairRow('env', k, v));
    if (task.type === 'CONTAINER_EXECUTION') {
      $('#f-image').value = task.executable ? task.executable.url : '';
      for (const r of task.resources || []) {
        if (r.type === 'CPU') $('#f-cpus').value = r.count;
        if (r.type === 'MEMORY') $('#f-memory').value = r.sizeInMB;
      }
      for (const v of task.volumes || []) $('#volumes .rows-body').append(pairRow('volume', v.pathOnHost, v.pathInContainer, v.mode));
    } else {
      $('#f-command').value = task.command || '';
      $('#f-args').value = (task.args || []).join('\n');
      $('#f-workdir').value = task.workingDirectory || '';
    }
    const trig = t.trigger || {};
    $('#f-cron').value = trig.timeSpec || '';
    $('#f-tz').value = trig.timeZone || '';
    const p = t.policies || {};
    $('#f-overlap').value = p.overlap && p.overlap.mode !== 'SERIAL' ? p.overlap.mode : '';
    $('#f-catchup').value = p.catchUp && p.catchUp.mode !== 'NONE' ? p.catchUp.mode : '';
    $('#f-attempts').value = p.retry ? p.retry.maxAttempts : 1;
    $('#f-timeout').value = p.timeout || '';
    const n = t.notify || {};
    $('#f-emails').value = (n.emails || []).join(', ');
    $('#f-webhooks').value = (n.webhooks || []).join('\n');
  } else {
    setKind('container');
  }
  $('#topology-dialog').showModal();
  if (simple && t) preview();
  (details ? $('#f-cron') : $('#f-name')).focus();
}

function lines(text) { return text.split('\n').map((s) => s.trim()).filter(Boolean); }

function buildTopology() {
  const name = $('#f-name').value.trim();
  const old = editing ? editing.topology : null;
  if (!$('#json-mode').hidden) {
    const t = JSON.parse($('#f-json').value);
    t.name = name;
    return t;
  }
  const kind = $('input[name=kind]:checked', form()).value;
  const env = {};
  $$('#env .pair').forEach((p) => {
    const k = $('.env-name', p).value.trim();
    if (k) env[k] = $('.env-value', p).value;
  });
  let task;
  if (kind === 'container') {
    const base = old && old.task.type === 'CONTAINER_EXECUTION' ? structuredClone(old.task) : { type: 'CONTAINER_EXECUTION', taskName: 'docker-task' };
    task = Object.assign(base, {
      executable: Object.assign({ type: 'DOCKER', dockerPullTimeout: '120 seconds' }, base.executable, { url: $('#f-image').value.trim() }),
      resources: [{ type: 'CPU', count: Number($('#f-cpus').value) }, { type: 'MEMORY', sizeInMB: Number($('#f-memory').value) }],
      volumes: $$('#volumes .pair').map((p) => {
        const host = $('.vol-host', p).value.trim();
        return { pathOnHost: host, pathInContainer: $('.vol-container', p).value.trim() || host, mode: $('.vol-mode', p).value };
      }).filter((v) => v.pathOnHost),
      env,
    });
  } else {
    const base = old && old.task.type === 'PROCESS' ? structuredClone(old.task) : { type: 'PROCESS', taskName: 'main' };
    task = Object.assign(base, { command: $('#f-command').value.trim(), args: lines($('#f-args').value), env });
    const wd = $('#f-workdir').value.trim();
    if (wd) task.workingDirectory = wd; else delete task.workingDirectory;
  }
  const trigger = { type: 'CRON', timeSpec: $('#f-cron').value.trim() };
  if ($('#f-tz').value.trim()) trigger.timeZone = $('#f-tz').value.trim();
  const topology = old ? structuredClone(old) : {};
  Object.assign(topology, { name, task, trigger });
  const emails = $('#f-emails').value.split(',').map((s) => s.trim()).filter(Boolean);
  const webhooks = lines($('#f-webhooks').value);
  const oldNotify = (old && old.notify) || {};
  if (emails.length || webhooks.length || oldNotify.events) {
    topology.notify = emails.length ? { type: 'MAIL', emails } : { type: 'BLACKHOLE' };
    if (webhooks.length) topology.notify.webhooks = webhooks;
    if (oldNotify.events) topology.notify.events = oldNotify.events;
  } else {
    delete topology.notify;
  }
  const p = Object.assign({}, topology.policies || {});
  const overlap = $('#f-overlap').value;
  if (overlap) p.overlap = Object.assign({}, p.overlap, { mode: overlap }); else delete p.overlap;
  const catchup = $('#f-catchup').value;
  if (catchup) p.catchUp = Object.assign({}, p.catchUp, { mode: catchup }); else delete p.catchUp;
  const attempts = Number($('#f-attempts').value || 1);
  if (attempts > 1) p.retry = Object.assign({}, p.retry, { maxAttempts: attempts }); else delete p.retry;
  const timeout = $('#f-timeout').value.trim();
  if (timeout) p.timeout = timeout; else delete p.timeout;
  if (Object.keys(p).length) topology.policies = p; else delete topology.policies;
  return topology;
}

// A server message ("trigger.timeSpec: ...") shown next to its field.
function fieldFor(message) {
  const rules = [
    [/^name\b/, 'name'], [/^trigger\.timeSpec|cron/i, 'cron'], [/^trigger\.timeZone/, 'tz'],
    [/^task\.executable|^task\.url|image/i, 'image'], [/^task\.resources\[0\]|CPU/i, 'cpus'],
    [/^task\.resources|MEMORY/i, 'memory'], [/^task\.command/, 'command'], [/^task\.env/, 'env'],
    [/^task\.volumes/, 'volumes'], [/^notify\.emails/, 'emails'], [/^notify\.webhooks/, 'webhooks'],
    [/^policies\.timeout/, 'timeout'], [/^policies/, 'policies'],
  ];
  if (!$('#json-mode').hidden) return 'json';
  for (const [re, field] of rules) if (re.test(message)) return field;
  return null;
}

function showErrors(messages) {
  const general = [];
  for (const m of messages) {
    const field = fieldFor(m);
    const slot = field && $('.field-error[data-for="' + field + '"]', form());
    if (!slot) { general.push(m); continue; }
    slot.textContent = (slot.textContent ? slot.textContent + ' ' : '') + m;
    const input = slot.closest('.field') && $('input, textarea, select', slot.closest('.field'));
    if (input) input.setAttribute('aria-invalid', 'true');
  }
  if (general.length) {
    $('#form-error').textContent = general.join(' · ');
    $('#form-error').hidden = false;
  }
  const first = $('[aria-invalid=true]', form()) || $('#form-error');
  if (first) first.focus();
}

async function submitForm(e) {
  e.preventDefault();
  clearErrors();
  let topology;
  try {
    topology = buildTopology();
  } catch (err) {
    showErrors(['The JSON does not parse: ' + err.message]);
    return;
  }
  const button = $('#form-submit');
  button.disabled = true;
  try {
    const saved = await api(editing ? 'PUT' : 'POST', '/apis/v1/topologies', topology);
    $('#topology-dialog').close();
    toast((editing ? 'Saved ' : 'Created ') + saved.id);
    if (editing && afterSave) afterSave(saved);
    else navigate('/topologies/' + encodeURIComponent(saved.id));
  } catch (err) {
    const errors = err.data && err.data.validationErrors;
    showErrors(errors && errors.length ? errors : [err.message]);
  } finally {
    button.disabled = false;
  }
}

// "Mon, 30 Nov 2026, 09:30:00 GMT+5:30" in the trigger's zone (the
// server's ISO text when the browser does not know the zone).
function zoned(n, zone) {
  try {
    return new Intl.DateTimeFormat(undefined, {
      timeZone: zone, weekday: 'short', year: 'numeric', month: 'short', day: 'numeric',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short',
    }).format(n.epochMillis);
  } catch (e) {
    return n.time;
  }
}

// The next five fire times and the cron in words, as the user types.
function preview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(async () => {
    const box = $('#cron-preview');
    const cron = $('#f-cron').value.trim();
    const tz = $('#f-tz').value.trim();
    if (!cron) { box.replaceChildren(); return; }
    try {
      const r = await api('GET', '/apis/v1/cron/next?n=5&expr=' + encodeURIComponent(cron) + (tz ? '&tz=' + encodeURIComponent(tz) : ''));
      $('#f-cron').removeAttribute('aria-invalid');
      $('.field-error[data-for="cron"]').textContent = '';
      box.replaceChildren(
        h('strong', { id: 'cron-description' }, r.description), ' ',
        h('span', { class: 'muted' }, '(' + r.timeZone + ')'),
        r.neverFires ? h('p', { class: 'field-error' }, 'This expression never fires.')
          : h('ol', { id: 'cron-next', 'aria-label': 'Next fire times' }, r.next.map((n) => h('li', {}, zoned(n, r.timeZone)))));
    } catch (err) {
      box.replaceChildren(h('span', { class: 'field-error', id: 'cron-problem' }, err.message));
    }
  }, 250);
}

// ---- start -------------------------------------------------------------------------

async function start() {
  const f = form();
  f.addEventListener('submit', submitForm);
  $('#form-cancel').addEventListener('click', () => $('#topology-dialog').close());
  $$('input[name=kind]', f).forEach((r) => r.addEventListener('change', () => setKind(r.value)));
  $('[data-add=env]').addEventListener('click', () => $('#env .rows-body').append(pairRow('env')));
  $('[data-add=volume]').addEventListener('click', () => $('#volumes .rows-body').append(pairRow('volume')));
  $('#f-cron').addEventListener('input', preview);
  $('#f-tz').addEventListener('input', preview);
  try {
    const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : [];
    $('#zones').append(...['UTC', ...zones].map((z) => h('option', { value: z })));
  } catch (e) { /* no zone list: free text still works */ }
  $('#sign-out').addEventListener('click', () => {
    sessionStorage.removeItem('epoch.token');
    session.token = '';
    location.reload();
  });
  try {
    session.me = await api('GET', '/apis/v1/whoami');
  } catch (e) {
    $('#main').replaceChildren(h('p', { class: 'error' }, 'Cannot reach epochd: ' + e.message));
    return;
  }
  $('#who').textContent = session.me.user + ' · ' + session.me.role.replace('_', ' ').toLowerCase();
  $('#sign-out').hidden = session.me.authMode !== 'token';
  document.body.classList.toggle('read-only', !canWrite());
  route();
}

start();
