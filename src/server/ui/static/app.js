// lake's web UI: plain JavaScript over the server's own JSON routes, no
// library and no request to any other server. Pages are routed by the URL's
// fragment (#/d/NAME?at=3), so every view, a query included, is a link.
'use strict';

// ---------------------------------------------------------------- helpers

/** An element: attributes (on* are listeners), then children. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const main = () => document.getElementById('main');
const enc = encodeURIComponent;

/** Replaces the page's content. */
function show(...children) {
  const el = main();
  el.replaceChildren();
  append(el, children);
}

const ident = (name) => '"' + String(name).replace(/"/g, '""') + '"';
const literal = (value) => "'" + String(value).replace(/'/g, "''") + "'";

function fmtInt(n) {
  return n === null || n === undefined ? '' : Number(n).toLocaleString('en-US');
}

function fmtBytes(n) {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return (i === 0 ? String(v) : v.toFixed(1)) + ' ' + units[i];
}

function fmtTime(t) {
  return t ? String(t).replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC') : '';
}

/** One cell's text: nulls, nested values and long text made readable. */
function cell(value) {
  if (value === null || value === undefined) return h('span', { class: 'null', text: 'null' });
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (text.length <= 200) return text;
  return h('span', { title: text.slice(0, 2000), text: text.slice(0, 200) + '…' });
}

const isNumeric = (type) => /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL)/.test(type);
const isScalar = (type) => !/\[|STRUCT|MAP|UNION/.test(type);

function errorBox(err) {
  return h('div', { class: 'error', role: 'alert', text: err.message || String(err) });
}

// ------------------------------------------------------------ server calls

/** Requests of the page on screen, cancelled when another page opens. */
let pageRequests = new AbortController();

async function api(path, options = {}) {
  const headers = Object.assign({ 'x-lake-ui': '1' }, options.headers || {});
  const signal = options.signal || pageRequests.signal;
  const init = Object.assign({}, options, { headers, signal, credentials: 'same-origin' });
  let res = await fetch(path, init);
  for (let retry = 0; res.status === 503 && retry < 3; retry += 1) {
    // Every permit is taken: wait as the server asks, then try again.
    await new Promise((resolve) => setTimeout(resolve, 1000 * (Number(res.headers.get('retry-after')) || 1)));
    res = await fetch(path, init);
  }
  if (res.status === 401) {
    // The session is gone: `/` shows the login form.
    window.location.assign('/');
    throw new Error('signed out');
  }
  if (!res.ok) {
    let message = res.status + ' ' + res.statusText;
    try {
      message = (await res.json()).error.message;
    } catch (_) { /* not JSON */ }
    const err = new Error(message);
    err.status = res.status;
    throw err;
  }
  return res;
}

const getJson = async (path, signal) => (await api(path, { signal })).json();

function atParam(at) {
  return at ? '?at=' + enc(at) : '';
}

/** Runs SQL as of `at`; JSON rows, or a Blob in `format`. */
async function runSql(sql, at, { signal, format } = {}) {
  const request = { sql };
  if (at) request.at = /^\d+$/.test(at) ? Number(at) : at;
  const res = await api('/v1/sql' + (format ? '?format=' + format : ''), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
    signal,
  });
  return format ? res.blob() : res.json();
}

const aborted = (err) => err && err.name === 'AbortError';

// ------------------------------------------------------------------ router

function parseHash() {
  const raw = window.location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  return { path, params };
}

function link(path, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (Array.isArray(v)) v.forEach((one) => qs.append(k, one));
    else if (v !== null && v !== undefined && v !== '') qs.set(k, v);
  }
  const s = qs.toString();
  return '#' + path + (s ? '?' + s : '');
}

function route() {
  pageRequests.abort();
  pageRequests = new AbortController();
  const { path, params } = parseHash();
  const at = params.get('at');
  showAsOf(at, path, params);
  let page = 'datasets';
  let m;
  if ((m = path.match(/^\/d\/(.+)$/))) datasetPage(decodeURIComponent(m[1]), params);
  else if ((m = path.match(/^\/history(?:\/(.+))?$/))) {
    page = 'history';
    historyPage(m[1] ? decodeURIComponent(m[1]) : null);
  } else if (path === '/sql') {
    page = 'sql';
    sqlPage(params);
  } else if (path === '/ingest') {
    page = 'ingest';
    ingestPage();
  } else if (path === '/') datasetsPage(at);
  else show(h('h1', { text: 'Not found' }), h('p', {}, h('a', { href: '#/', text: 'Datasets' })));
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = 'lake: ' + page;
}

/** The banner of a page viewed as of a snapshot, with the way back. */
function showAsOf(at, path, params) {
  const banner = document.getElementById('asof');
  banner.replaceChildren();
  if (!at) {
    banner.hidden = true;
    return;
  }
  const now = new URLSearchParams(params);
  now.delete('at');
  const back = '#' + path + (now.toString() ? '?' + now : '');
  append(banner, ['Viewing the lake as of snapshot ', h('strong', { text: at }), ' · ', h('a', { href: back, text: 'back to now' })]);
  banner.hidden = false;
}

// ---------------------------------------------------------------- datasets

async function datasetsPage(at) {
  const search = h('input', { type: 'search', id: 'search', placeholder: 'Find a dataset', 'aria-label': 'Find a dataset' });
  const body = h('tbody');
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  show(
    h('h1', { text: at ? 'Datasets as of snapshot ' + at : 'Datasets' }),
    h('div', { class: 'toolbar' }, search, count),
    h('div', { class: 'scroll' }, h('table', { class: 'grid', id: 'datasets' },
      h('thead', {}, h('tr', {}, ['Name', 'Rows', 'Columns', 'Bytes', 'Updated'].map((t, i) => h('th', { class: i > 0 && i < 4 ? 'num' : null, text: t })))),
      body)),
  );
  let datasets;
  try {
    datasets = (await getJson('/v1/catalog/list' + atParam(at))).datasets;
  } catch (err) {
    if (!aborted(err)) main().append(errorBox(err));
    return;
  }
  const render = () => {
    const needle = search.value.trim().toLowerCase();
    const shown = datasets.filter((d) => d.name.toLowerCase().includes(needle));
    body.replaceChildren(...shown.map((d) => h('tr', {},
      h('td', {}, h('a', { href: link('/d/' + enc(d.name), { at }), text: d.name })),
      h('td', { class: 'num', text: fmtInt(d.rows) }),
      h('td', { class: 'num', text: fmtInt(d.columns) }),
      h('td', { class: 'num', text: fmtBytes(d.bytes) }),
      h('td', { text: fmtTime(d.updated) }))));
    count.textContent = datasets.length === 0
      ? 'No datasets yet: ingest a file.'
      : shown.length + ' of ' + datasets.length + ' datasets';
  };
  search.addEventListener('input', render);
  render();
  search.focus();
}

// ----------------------------------------------------------------- dataset

/** Columns with at most this many distinct values get a facet. */
const FACET_MAX_DISTINCT = 50;
/** Rows whose distinct values rule a column out of facets early. */
const SAMPLE_ROWS = 100000;
const PAGE_ROWS = 50;

async function datasetPage(name, params) {
  const at = params.get('at');
  const sort = params.get('sort');
  const desc = params.get('desc') === '1';
  const page = Math.max(0, parseInt(params.get('page') || '0', 10) || 0);
  const filters = params.getAll('f').map((f) => {
    try {
      return JSON.parse(f);
    } catch (_) {
      return null;
    }
  }).filter((f) => Array.isArray(f) && f.length === 2);
  const here = (changes) => link('/d/' + enc(name), Object.assign({
    at, sort, desc: desc ? '1' : null, page: page || null, f: filters.map((f) => JSON.stringify(f)),
  }, changes));

  show(h('h1', { text: name }), h('p', { class: 'muted', text: 'Loading…' }));
  let ds;
  try {
    ds = await getJson('/v1/catalog/' + enc(name) + atParam(at));
  } catch (err) {
    if (!aborted(err)) show(h('h1', { text: name }), errorBox(err));
    return;
  }
  const columns = ds.schema;
  const table = ident(ds.name);
  const where = filters.length === 0 ? '' : ' WHERE ' + filters.map(([c, v]) => (v === null
    ? ident(c) + ' IS NULL'
    : ident(c) + '::VARCHAR = ' + literal(v))).join(' AND ');

  // The skeleton, filled as the answers come.
  const statCells = columns.map(() => ({ nulls: h('td', { class: 'num' }), min: h('td'), max: h('td'), distinct: h('td', { class: 'num' }) }));
  const facets = h('div', { class: 'facets', id: 'facets' }, h('p', { class: 'muted', text: 'Finding facets…' }));
  const rowsArea = h('div', { id: 'rows' }, h('p', { class: 'muted', text: 'Loading rows…' }));
  const matching = h('span');
  show(
    h('h1', {}, ds.name),
    h('p', { class: 'meta' },
      fmtInt(ds.rows) + ' rows · ' + columns.length + ' columns · ' + fmtBytes(ds.bytes) +
        ' · version ' + ds.version + ' · snapshot ' + ds.snapshot + ' · updated ' + fmtTime(ds.updated_at) + ' · ',
      h('a', { href: link('/history/' + enc(ds.name)), text: 'history' }), ' · ',
      h('a', { href: link('/sql', { q: 'SELECT * FROM ' + table + ' LIMIT 100', at }), text: 'query' })),
    filters.length === 0 ? null : h('p', { class: 'filters' }, 'Filtered: ', filters.map(([c, v]) => h('a', {
      class: 'chip',
      href: here({ page: null, f: filters.filter((f) => f[0] !== c || f[1] !== v).map((f) => JSON.stringify(f)) }),
      title: 'Remove this filter',
    }, c + ' = ' + (v === null ? 'null' : v) + ' ×')), ' ', matching),
    h('section', { 'aria-labelledby': 'h-facets' }, h('h2', { id: 'h-facets', text: 'Facets' }), facets),
    h('section', { 'aria-labelledby': 'h-columns' }, h('h2', { id: 'h-columns', text: 'Columns' }),
      h('div', { class: 'scroll' }, h('table', { class: 'grid', id: 'columns' },
        h('thead', {}, h('tr', {}, ['Column', 'Type', 'Nulls', 'Min', 'Max', 'Distinct ≈'].map((t) => h('th', { text: t })))),
        h('tbody', {}, columns.map((c, i) => h('tr', {}, h('td', { text: c.name }), h('td', { class: 'type', text: c.type }),
          statCells[i].nulls, statCells[i].min, statCells[i].max, statCells[i].distinct)))))),
    h('section', { 'aria-labelledby': 'h-rows' }, h('h2', { id: 'h-rows', text: 'Rows' }), rowsArea),
  );

  // Statistics: nulls, min and max of every column, over every row. One
  // branch per column: DuckDB answers each from the files' statistics
  // where it can (one statement of all the aggregates scans every row).
  const statsSql = columns.map((c, i) => {
    const col = ident(c.name);
    const range = isScalar(c.type) ? 'min(' + col + ')::VARCHAR, max(' + col + ')::VARCHAR' : 'NULL, NULL';
    return 'SELECT ' + i + ', count(*), count(*) - count(' + col + '), ' + range + ' FROM ' + table + where;
  }).join(' UNION ALL ');
  const stats = runSql(statsSql, at).then((answer) => {
    let count = ds.rows;
    for (const [i, n, nulls, min, max] of answer.rows) {
      statCells[i].nulls.textContent = fmtInt(nulls);
      statCells[i].min.replaceChildren(cell(min));
      statCells[i].max.replaceChildren(cell(max));
      count = n;
    }
    if (filters.length) matching.textContent = fmtInt(count) + ' matching rows';
    return count;
  });
  stats.catch((err) => {
    if (!aborted(err)) statCells.forEach((c) => c.nulls.replaceChildren(errorBox(err)));
  });

  // A page of rows, sorted by a column header.
  const order = sort ? ' ORDER BY ' + ident(sort) + (desc ? ' DESC' : ' ASC') + ' NULLS LAST' : '';
  const rowsSql = 'SELECT * FROM ' + table + where + order + ' LIMIT ' + PAGE_ROWS + ' OFFSET ' + page * PAGE_ROWS;
  runSql(rowsSql, at).then(async (answer) => {
    const total = filters.length ? await stats.catch(() => null) : ds.rows;
    const header = answer.columns.map((c) => {
      const sorted = sort === c.name;
      const next = sorted && !desc ? '1' : null;
      return h('th', { 'aria-sort': sorted ? (desc ? 'descending' : 'ascending') : null },
        h('a', { href: here({ sort: c.name, desc: next, page: null }), class: 'sort', title: 'Sort by ' + c.name },
          c.name, sorted ? (desc ? ' ▼' : ' ▲') : ''));
    });
    const first = page * PAGE_ROWS;
    const pager = h('div', { class: 'pager' },
      page > 0 ? h('a', { href: here({ page: page - 1 || null }), class: 'button', text: '← Previous' }) : null,
      h('span', { class: 'muted', text: answer.rows.length === 0 ? 'no rows' : 'rows ' + fmtInt(first + 1) + '–' + fmtInt(first + answer.rows.length) + (total !== null ? ' of ' + fmtInt(total) : '') }),
      first + answer.rows.length < (total ?? Infinity) && answer.rows.length === PAGE_ROWS
        ? h('a', { href: here({ page: page + 1 }), class: 'button', text: 'Next →' }) : null);
    rowsArea.replaceChildren(resultTable(answer, header, 'rows-table'), pager);
  }).catch((err) => {
    if (!aborted(err)) rowsArea.replaceChildren(errorBox(err));
  });

  // Facets: a column whose first rows already hold more than a facet's
  // worth of values has at least as many in all (one cheap query over the
  // first SAMPLE_ROWS). The others are counted over every row, and those
  // with few values get their facet, counted over every row too. The
  // estimates of the rest, for the table, come after.
  const scalar = columns.filter((c) => isScalar(c.type));
  const slots = scalar.map(() => h('div', { class: 'slot', hidden: true }));
  facets.replaceChildren(h('p', { class: 'muted', id: 'facets-state', text: 'Finding facets…' }), ...slots);
  const estimate = async (c) => {
    const n = (await runSql('SELECT approx_count_distinct(' + ident(c.name) + ') FROM ' + table + where, at)).rows[0][0];
    statCells[columns.indexOf(c)].distinct.textContent = fmtInt(n);
    return n;
  };
  const failed = (c) => (err) => {
    if (!aborted(err)) statCells[columns.indexOf(c)].distinct.replaceChildren(errorBox(err));
    return false;
  };
  let firstRows = [];
  try {
    if (scalar.length > 0) {
      firstRows = (await runSql('SELECT ' + scalar.map((c) => 'approx_count_distinct(' + ident(c.name) + ')').join(', ') +
        ' FROM (SELECT * FROM ' + table + where + ' LIMIT ' + SAMPLE_ROWS + ')', at)).rows[0];
    }
  } catch (err) {
    if (!aborted(err)) facets.replaceChildren(errorBox(err));
    return;
  }
  const candidate = (k) => firstRows[k] <= FACET_MAX_DISTINCT;
  const chosen = Promise.all(scalar.map(async (c, k) => {
    if (!candidate(k)) return false;
    try {
      const n = await estimate(c);
      const total = filters.length ? await stats : ds.rows;
      if (n > FACET_MAX_DISTINCT || n >= total) return false;
      const box = facet(c, table, where, at, here, filters);
      slots[k].replaceWith(box);
      await box.done;
      return true;
    } catch (err) {
      return failed(c)(err);
    }
  }));
  const shown = await chosen;
  // Then, not competing with the facets for the server's cores, the rest.
  scalar.forEach((c, k) => {
    if (!candidate(k)) estimate(c).catch(failed(c));
  });
  const state = document.getElementById('facets-state');
  if (!state) return;
  if (shown.some(Boolean)) state.remove();
  else state.textContent = 'No column has ' + FACET_MAX_DISTINCT + ' or fewer distinct values.';
  facets.dataset.state = 'done';
}

/** One facet: the commonest values of a column and their counts, each a
 * filter; cancellable while DuckDB counts. */
function facet(column, table, where, at, here, filters) {
  const controller = new AbortController();
  pageRequests.signal.addEventListener('abort', () => controller.abort());
  const list = h('ol', { class: 'facet-values' });
  const cancel = h('button', { type: 'button', class: 'small', onclick: () => controller.abort() }, 'Cancel');
  const state = h('p', { class: 'muted' }, 'Counting… ', cancel);
  const box = h('div', { class: 'facet', 'data-column': column.name }, h('h3', { text: column.name }), state, list);
  const col = ident(column.name);
  const sql = 'SELECT ' + col + ', count(*) FROM ' + table + where + ' GROUP BY 1 ORDER BY 2 DESC, 1 NULLS LAST LIMIT 11';
  box.done = runSql(sql, at, { signal: controller.signal }).then((answer) => {
    state.remove();
    answer.rows.slice(0, 10).forEach(([value, n]) => {
      const f = JSON.stringify([column.name, value]);
      const active = filters.some((x) => x[0] === column.name && x[1] === value);
      list.append(h('li', {}, h('a', {
        href: active ? here({ page: null }) : here({ page: null, f: filters.map((x) => JSON.stringify(x)).concat([f]) }),
        class: active ? 'active' : null,
      }, h('span', { class: 'value' }, value === null ? h('span', { class: 'null', text: 'null' }) : value),
      h('span', { class: 'count', text: fmtInt(n) }))));
    });
    if (answer.rows.length > 10) list.append(h('li', { class: 'muted', text: 'and more…' }));
  }).catch((err) => {
    state.replaceChildren(aborted(err) ? 'Cancelled.' : errorBox(err));
  });
  return box;
}

/** Rows a grid shows at most: the page stays quick; downloads hold all. */
const GRID_ROWS = 1000;

/** A table of a query's answer. */
function resultTable(answer, header, id) {
  const heads = header || answer.columns.map((c) => h('th', { title: c.type, text: c.name }));
  const numeric = answer.columns.map((c) => isNumeric(c.type));
  const rows = answer.rows.slice(0, GRID_ROWS);
  return h('div', { class: 'scroll' }, h('table', { class: 'grid', id },
    h('thead', {}, h('tr', {}, heads)),
    h('tbody', {}, rows.map((row) => h('tr', {}, row.map((v, i) => h('td', { class: numeric[i] ? 'num' : null }, cell(v))))))),
  answer.rows.length > GRID_ROWS
    ? h('p', { class: 'muted', text: 'Showing the first ' + fmtInt(GRID_ROWS) + ' rows: download for all of them.' })
    : null);
}

// ----------------------------------------------------------------- history

async function historyPage(name, notice) {
  const message = h('div', { 'aria-live': 'polite' }, notice);
  show(h('h1', { text: name ? 'History of ' + name : 'History' }), message, h('p', { class: 'muted', text: 'Loading…' }));
  let snapshots;
  try {
    snapshots = (await getJson(name ? '/v1/catalog/' + enc(name) + '/log' : '/v1/log')).snapshots;
  } catch (err) {
    if (!aborted(err)) show(h('h1', { text: 'History' }), errorBox(err));
    return;
  }
  const rows = snapshots.map((s) => {
    const actions = h('div', { class: 'actions' });
    if (s.dataset) {
      actions.append(h('a', { href: link('/d/' + enc(s.dataset), { at: String(s.snapshot) }), text: 'view as of' }));
    }
    actions.append(h('a', { href: link('/', { at: String(s.snapshot) }), text: 'lake as of' }));
    if (name && s.dataset && s.rows !== null) {
      const confirm = h('button', { type: 'button', class: 'danger small', hidden: true }, 'Restore ' + name + ' to snapshot ' + s.snapshot);
      const ask = h('button', { type: 'button', class: 'small' }, 'Restore…');
      ask.addEventListener('click', () => {
        ask.hidden = true;
        confirm.hidden = false;
        confirm.focus();
      });
      confirm.addEventListener('click', async () => {
        confirm.disabled = true;
        try {
          const res = await api('/v1/catalog/' + enc(name) + '/restore', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ to: s.snapshot }),
          });
          const done = await res.json();
          historyPage(name, h('p', { class: 'ok', role: 'status' },
            name + ' ' + done.status + ' as at snapshot ' + done.restored_from + ': ' + fmtInt(done.rows) + ' rows, snapshot ' + done.snapshot + '.'));
        } catch (err) {
          if (!aborted(err)) message.replaceChildren(errorBox(err));
          confirm.disabled = false;
        }
      });
      actions.append(ask, confirm);
    }
    return h('tr', {},
      h('td', { class: 'num', text: s.snapshot }),
      h('td', { text: fmtTime(s.time) }),
      h('td', {}, s.dataset ? h('a', { href: link('/d/' + enc(s.dataset)), text: s.dataset }) : ''),
      h('td', { text: s.change }),
      h('td', { class: 'num', text: fmtInt(s.rows) }),
      h('td', {}, actions));
  });
  show(h('h1', { text: name ? 'History of ' + name : 'History' }), message,
    name ? h('p', {}, h('a', { href: link('/history'), text: 'the whole lake' })) : null,
    h('div', { class: 'scroll' }, h('table', { class: 'grid', id: 'history' },
      h('thead', {}, h('tr', {}, ['Snapshot', 'Time', 'Dataset', 'Change', 'Rows after', ''].map((t) => h('th', { text: t })))),
      h('tbody', {}, rows))));
}

// --------------------------------------------------------------------- SQL

function sqlPage(params) {
  const at = params.get('at');
  const editor = h('textarea', { id: 'sql', rows: 8, spellcheck: 'false', 'aria-label': 'SQL', placeholder: 'SELECT * FROM my_dataset LIMIT 100' });
  editor.value = params.get('q') || '';
  const runButton = h('button', { type: 'button', id: 'run', title: 'Ctrl+Enter' }, 'Run');
  const cancelButton = h('button', { type: 'button', id: 'cancel', disabled: true }, 'Cancel');
  const downloads = ['csv', 'parquet', 'arrow'].map((format) => h('button', {
    type: 'button', class: 'small', 'data-format': format, onclick: () => download(format),
  }, format === 'csv' ? 'CSV' : format === 'parquet' ? 'Parquet' : 'Arrow'));
  const status = h('p', { id: 'status', class: 'muted', role: 'status' });
  const results = h('div', { id: 'results' });
  const chartArea = h('div', { id: 'chart-area' });
  let running = null;

  show(
    h('h1', { text: 'SQL' }),
    h('div', { class: 'editor' }, editor),
    h('div', { class: 'toolbar' }, runButton, cancelButton, h('span', { class: 'muted', text: 'Ctrl+Enter runs' }),
      h('span', { class: 'spacer' }), 'Download: ', downloads),
    status, results, chartArea,
  );

  function share(sql) {
    const url = link('/sql', { q: sql, at });
    if (window.location.hash !== url) window.history.replaceState(null, '', url);
  }

  async function run() {
    const sql = editor.value.trim();
    if (!sql) return;
    if (running) running.abort();
    const controller = new AbortController();
    running = controller;
    pageRequests.signal.addEventListener('abort', () => controller.abort());
    share(sql);
    runButton.disabled = true;
    cancelButton.disabled = false;
    status.className = 'muted';
    status.textContent = 'Running…';
    const started = performance.now();
    try {
      const answer = await runSql(sql, at, { signal: controller.signal });
      const ms = Math.round(performance.now() - started);
      status.textContent = fmtInt(answer.row_count) + (answer.row_count === 1 ? ' row' : ' rows') + ' in ' + ms + ' ms' +
        (answer.truncated ? ' (cut at the server\'s limit: download for all)' : '');
      results.replaceChildren(resultTable(answer, null, 'result'));
      chartArea.replaceChildren(chartControls(answer));
    } catch (err) {
      if (aborted(err)) {
        status.textContent = 'Cancelled.';
      } else {
        status.textContent = '';
        results.replaceChildren(errorBox(err));
        chartArea.replaceChildren();
      }
    } finally {
      if (running === controller) running = null;
      runButton.disabled = false;
      cancelButton.disabled = true;
    }
  }

  async function download(format) {
    const sql = editor.value.trim();
    if (!sql) return;
    share(sql);
    status.textContent = 'Preparing ' + format + '…';
    try {
      const blob = await runSql(sql, at, { format });
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: 'query.' + (format === 'arrow' ? 'arrows' : format), hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      status.textContent = 'Downloaded query.' + (format === 'arrow' ? 'arrows' : format) + ' (' + fmtBytes(blob.size) + ')';
    } catch (err) {
      if (!aborted(err)) {
        status.textContent = '';
        results.replaceChildren(errorBox(err));
      }
    }
  }

  runButton.addEventListener('click', run);
  cancelButton.addEventListener('click', () => running && running.abort());
  editor.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });
  editor.focus();
  if (editor.value.trim()) run();
}

// ------------------------------------------------------------------- chart

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  children.forEach((c) => el.append(c));
  return el;
}

/** The chart's choices: kind, x and y columns. */
function chartControls(answer) {
  if (answer.rows.length === 0 || answer.columns.length < 2) return '';
  const numericCols = answer.columns.map((c, i) => ({ c, i })).filter(({ c }) => isNumeric(c.type));
  if (numericCols.length === 0) return '';
  const options = (cols) => cols.map(({ c, i }) => h('option', { value: i, text: c.name }));
  const all = answer.columns.map((c, i) => ({ c, i }));
  const kind = h('select', { id: 'chart-kind', 'aria-label': 'Chart kind' }, ['bar', 'line', 'scatter'].map((k) => h('option', { value: k, text: k })));
  const x = h('select', { id: 'chart-x', 'aria-label': 'X column' }, options(all));
  const y = h('select', { id: 'chart-y', 'aria-label': 'Y column' }, options(numericCols));
  const firstOther = all.find(({ i }) => i !== numericCols[0].i);
  x.value = String(firstOther ? firstOther.i : 0);
  y.value = String(numericCols[numericCols.length > 1 && numericCols[0].i === Number(x.value) ? 1 : 0].i);
  const area = h('div', { class: 'chart', id: 'chart' });
  const draw = () => area.replaceChildren(chart(answer, kind.value, Number(x.value), Number(y.value)));
  [kind, x, y].forEach((s) => s.addEventListener('change', draw));
  draw();
  return h('section', { 'aria-labelledby': 'h-chart' }, h('h2', { id: 'h-chart', text: 'Chart' }),
    h('div', { class: 'toolbar' }, h('label', {}, 'Kind ', kind), h('label', {}, 'X ', x), h('label', {}, 'Y ', y)), area);
}

/** An SVG chart of column `yi` against column `xi`. */
function chart(answer, kind, xi, yi) {
  const W = 720;
  const H = 320;
  const pad = { l: 64, r: 16, t: 12, b: 48 };
  const xType = answer.columns[xi].type;
  const timeLike = /^(DATE|TIMESTAMP)/.test(xType);
  const numericX = isNumeric(xType) || timeLike;
  const points = answer.rows.slice(0, 2000)
    .map((r) => ({ x: r[xi], y: r[yi] === null ? null : Number(r[yi]) }))
    .filter((p) => p.y !== null && Number.isFinite(p.y) && p.x !== null);
  const root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': kind + ' chart of ' + answer.columns[yi].name + ' by ' + answer.columns[xi].name });
  if (points.length === 0) return root;
  const xv = (p) => (timeLike ? Date.parse(p.x) : Number(p.x));
  const categorical = kind === 'bar' || !numericX;
  const ys = points.map((p) => p.y);
  let y0 = Math.min(0, ...ys);
  let y1 = Math.max(0, ...ys);
  if (y0 === y1) y1 = y0 + 1;
  const sy = (v) => pad.t + (H - pad.t - pad.b) * (1 - (v - y0) / (y1 - y0));
  let sx;
  let labelOf;
  if (categorical) {
    const step = (W - pad.l - pad.r) / points.length;
    sx = (p, i) => pad.l + step * (i + 0.5);
    labelOf = (i) => String(points[i].x);
  } else {
    points.sort((a, b) => xv(a) - xv(b));
    const x0 = xv(points[0]);
    const x1 = xv(points[points.length - 1]) === x0 ? x0 + 1 : xv(points[points.length - 1]);
    sx = (p) => pad.l + (W - pad.l - pad.r) * ((xv(p) - x0) / (x1 - x0));
    labelOf = (i) => String(points[i].x);
  }
  const axis = svg('g', { class: 'axis' });
  for (let t = 0; t <= 4; t += 1) {
    const v = y0 + ((y1 - y0) * t) / 4;
    axis.append(svg('line', { x1: pad.l, x2: W - pad.r, y1: sy(v), y2: sy(v), class: 'gridline' }));
    const label = svg('text', { x: pad.l - 6, y: sy(v) + 4, 'text-anchor': 'end' });
    label.textContent = Math.abs(v) >= 1e6 ? v.toExponential(2) : +v.toFixed(2);
    axis.append(label);
  }
  const ticks = Math.min(points.length, 6);
  for (let t = 0; t < ticks; t += 1) {
    const i = Math.round((t * (points.length - 1)) / Math.max(1, ticks - 1));
    const label = svg('text', { x: sx(points[i], i), y: H - pad.b + 18, 'text-anchor': 'middle' });
    label.textContent = labelOf(i).slice(0, 16);
    axis.append(label);
  }
  root.append(axis);
  const marks = svg('g', { class: 'marks' });
  if (kind === 'bar') {
    const width = Math.max(1, ((W - pad.l - pad.r) / points.length) * 0.8);
    points.forEach((p, i) => marks.append(svg('rect', {
      x: sx(p, i) - width / 2, width, y: Math.min(sy(p.y), sy(0)), height: Math.max(1, Math.abs(sy(0) - sy(p.y))),
    })));
  } else if (kind === 'line') {
    marks.append(svg('polyline', { points: points.map((p, i) => sx(p, i) + ',' + sy(p.y)).join(' '), fill: 'none' }));
  } else {
    points.forEach((p, i) => marks.append(svg('circle', { cx: sx(p, i), cy: sy(p.y), r: 3 })));
  }
  root.append(marks);
  return root;
}

// ------------------------------------------------------------------ ingest

function nameFor(fileName) {
  const stem = fileName.replace(/\.(gz|zst)$/i, '').replace(/\.[^.]*$/, '');
  const name = stem.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  return /^[a-z_]/.test(name) ? name : 'd_' + name;
}

function ingestPage() {
  const input = h('input', { type: 'file', id: 'file', 'aria-label': 'File to ingest' });
  const chosen = h('p', { class: 'muted', id: 'chosen', text: 'No file chosen' });
  const zone = h('div', { class: 'dropzone', id: 'dropzone' },
    h('p', {}, 'Drop a CSV, JSON or Parquet file here, or choose one:'), input, chosen);
  const name = h('input', { type: 'text', id: 'name', required: true, pattern: '[A-Za-z_][A-Za-z0-9_]*', autocomplete: 'off' });
  const mode = h('select', { id: 'mode' },
    h('option', { value: 'overwrite', text: 'New version (same columns)' }),
    h('option', { value: 'append', text: 'Append rows' }),
    h('option', { value: 'replace', text: 'Replace (any columns)' }));
  const evolve = h('input', { type: 'checkbox', id: 'evolve' });
  const submit = h('button', { type: 'submit', id: 'upload' }, 'Ingest');
  const outcome = h('div', { id: 'outcome', 'aria-live': 'polite' });
  let file = null;

  const pick = (f) => {
    file = f;
    chosen.textContent = f ? f.name + ' (' + fmtBytes(f.size) + ')' : 'No file chosen';
    if (f && !name.value) name.value = nameFor(f.name);
  };
  input.addEventListener('change', () => pick(input.files[0] || null));
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer.files.length) pick(e.dataTransfer.files[0]);
  });
  mode.addEventListener('change', () => {
    evolve.disabled = mode.value === 'replace';
    if (evolve.disabled) evolve.checked = false;
  });

  const form = h('form', { class: 'ingest', id: 'ingest-form' },
    zone,
    h('div', { class: 'fields' },
      h('label', { for: 'name' }, 'Dataset'), name,
      h('label', { for: 'mode' }, 'If it exists'), mode,
      h('span'), h('label', { class: 'check' }, evolve, ' Evolve: accept added, removed and widened columns')),
    h('div', { class: 'toolbar' }, submit),
    outcome);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!file) {
      outcome.replaceChildren(errorBox(new Error('Choose a file first.')));
      return;
    }
    const body = new FormData();
    body.append('file', file, file.name);
    const qs = new URLSearchParams({ name: name.value.trim(), mode: mode.value });
    if (evolve.checked) qs.set('evolve', 'true');
    submit.disabled = true;
    outcome.replaceChildren(h('p', { class: 'muted', text: 'Ingesting ' + file.name + '…' }));
    try {
      const report = await (await api('/v1/ingest?' + qs, { method: 'POST', body })).json();
      outcome.replaceChildren(h('p', { class: 'ok', role: 'status' },
        h('a', { href: link('/d/' + enc(report.name)), text: report.name }),
        ' ' + report.status + ': ' + fmtInt(report.rows) + ' rows, version ' + report.version + ', snapshot ' + report.snapshot +
          (report.rejects ? ', ' + fmtInt(report.rejects) + ' rows rejected' : '')));
    } catch (err) {
      if (!aborted(err)) {
        const hint = err.status === 409 ? ' Choose “Evolve”, or “Replace”, to accept the new columns.' : '';
        outcome.replaceChildren(errorBox(new Error(err.message + hint)));
      }
    } finally {
      submit.disabled = false;
    }
  });
  show(h('h1', { text: 'Ingest' }), form);
}

window.addEventListener('hashchange', route);
route();
