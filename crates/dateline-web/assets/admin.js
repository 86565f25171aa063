// Dateline's desk: the one script of the admin, written for the project and served as it is.
// Every change goes through the JSON API at /api/v1 with the session's CSRF token; the pages
// themselves are rendered by the server. No inline script runs: the admin's
// Content-Security-Policy allows only this file.
'use strict';
(() => {
  const $ = (css, root = document) => root.querySelector(css);
  const $$ = (css, root = document) => Array.from(root.querySelectorAll(css));
  const csrf = document.body.dataset.csrf || '';
  const user = document.body.dataset.user || '';
  // What the browser keeps of an account's unsaved articles: one key an article, per account.
  const keptPrefix = `dateline-article-${user}-`;
  const zone = document.body.dataset.zone || 'UTC';

  // Calls the API; answers {ok, status, data}, or throws when the network is down.
  async function api(method, url, body, file) {
    const headers = { 'X-CSRF-Token': csrf };
    let payload;
    if (file) {
      payload = file;
      headers['Content-Type'] = file.type || 'application/octet-stream';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
    const response = await fetch(url, { method, headers, body: payload, credentials: 'same-origin' });
    const text = await response.text();
    let data = {};
    if (text) {
      try { data = JSON.parse(text); } catch { data = { message: text }; }
    }
    return { ok: response.ok, status: response.status, data };
  }

  const say = (text) => { const s = $('#status'); if (s) s.textContent = text; };
  const when = (iso) => {
    try {
      return new Date(iso).toLocaleString('en-GB', { timeZone: zone, dateStyle: 'medium', timeStyle: 'short' });
    } catch { return iso; }
  };
  const el = (tag, text, attrs) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  };
  const debounce = (fn, ms) => {
    let t = null;
    return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  };

  // --- Logging in and out -------------------------------------------------------------------

  const login = $('#login');
  if (login) {
    login.addEventListener('submit', async (e) => {
      e.preventDefault();
      const error = $('#login-error');
      error.textContent = '';
      try {
        const r = await api('POST', '/api/v1/session', { username: login.username.value.trim(), password: login.password.value });
        if (r.ok) location.assign(login.dataset.next || '/admin');
        else error.textContent = r.data.message || 'Logging in failed.';
      } catch { error.textContent = 'The server cannot be reached: check the connection.'; }
    });
  }
  const logout = $('#logout');
  if (logout) {
    logout.addEventListener('click', async () => {
      // A shared newsroom computer keeps nothing of this account once it has logged out.
      try {
        for (const key of Object.keys(localStorage)) if (key.startsWith(keptPrefix)) localStorage.removeItem(key);
      } catch { /* no storage */ }
      try { await api('DELETE', '/api/v1/session'); } finally { location.assign('/admin/login'); }
    });
  }

  // --- Forms and buttons that call the API (accounts, webhooks, password, history) ----------

  for (const form of $$('form[data-api]')) {
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = {};
      let target = form.dataset.api;
      for (const input of $$('input[name], select[name], textarea[name]', form)) {
        const v = input.type === 'password' ? input.value : input.value.trim();
        // A field that names what the address is about goes into the address, not the body.
        if (form.dataset.path === input.name) { target = target.replace('{id}', encodeURIComponent(v)); continue; }
        // Ticked boxes of one name make a list (of numbers, with data-number).
        if (input.type === 'checkbox') {
          if (!Array.isArray(body[input.name])) body[input.name] = [];
          if (input.checked) body[input.name].push(input.dataset.number !== undefined ? Number(v) : v);
          continue;
        }
        let value;
        if (input.dataset.list) value = v.split(',').map((x) => x.trim()).filter(Boolean);
        else if (v !== '') value = input.type === 'number' ? Number(v) : v;
        else continue;
        // `outer.inner` names a field of an object in the body.
        const [outer, inner] = input.name.split('.');
        if (inner) body[outer] = Object.assign(body[outer] || {}, { [inner]: value });
        else body[outer] = value;
      }
      const error = $('.error', form);
      if (error) error.textContent = '';
      try {
        const r = await api(form.dataset.method || 'POST', target, body);
        if (!r.ok) { if (error) error.textContent = r.data.message || `Refused (${r.status}).`; return; }
        const shown = form.dataset.show && r.data[form.dataset.show];
        if (shown) {
          // A generated secret is shown once: the page stays until it is copied.
          say(`${form.dataset.done} Its ${form.dataset.show}, shown only now: ${shown}`);
          form.reset();
        } else {
          say(form.dataset.done || 'Done.');
          setTimeout(() => location.reload(), 600);
        }
      } catch { if (error) error.textContent = 'The server cannot be reached: nothing was changed.'; }
    });
  }
  for (const button of $$('button[data-post], button[data-delete]')) {
    button.addEventListener('click', async () => {
      const r = await api(button.dataset.post ? 'POST' : 'DELETE', button.dataset.post || button.dataset.delete);
      if (r.ok) location.reload(); else say(r.data.message || `Refused (${r.status}).`);
    });
  }
  const revisions = $('.history');
  if (revisions) {
    for (const button of $$('button[data-restore]', revisions)) {
      button.addEventListener('click', async () => {
        const { id, revision } = revisions.dataset;
        const r = await api('POST', `/api/v1/articles/${id}/revisions/${button.dataset.restore}/restore`, { base_revision: Number(revision) });
        if (r.ok) location.assign(`/admin/articles/${id}/history`);
        else say(r.data.message || `Refused (${r.status}).`);
      });
    }
  }

  // --- Pasting: keep the structure, drop the rest --------------------------------------------

  const BLOCKS = new Set(['P', 'H2', 'H3', 'H4', 'UL', 'OL', 'BLOCKQUOTE', 'FIGURE']);
  const KEEP = { P: 'p', H1: 'h2', H2: 'h2', H3: 'h3', H4: 'h4', H5: 'h4', H6: 'h4', UL: 'ul', OL: 'ol', LI: 'li', BLOCKQUOTE: 'blockquote', STRONG: 'strong', B: 'strong', EM: 'em', I: 'em', A: 'a', BR: 'br' };
  const DROP = new Set(['SCRIPT', 'STYLE', 'TEMPLATE', 'TITLE', 'META', 'LINK', 'HEAD', 'NOSCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'SVG', 'MATH', 'IMG', 'PICTURE', 'VIDEO', 'AUDIO', 'CANVAS', 'FORM', 'INPUT', 'BUTTON', 'SELECT', 'TEXTAREA', 'XML']);
  const style = (node) => (node.getAttribute && (node.getAttribute('style') || '')).toLowerCase().replace(/\s+/g, '');

  // Word writes list items as paragraphs with an mso-list style and a marker to ignore.
  const wordItem = (node) => node.nodeName === 'P' && (/mso-list/.test(style(node)) || /^MsoListParagraph/.test(node.className || ''));

  function cleanInto(node, parent) {
    let list = null;
    for (const child of Array.from(node.childNodes)) {
      if (child.nodeType === Node.TEXT_NODE) {
        const text = child.textContent.replace(/\s+/g, ' ');
        if (text.trim()) {
          parent.append(text);
          list = null;
        } else {
          // Whitespace between inline runs is a space; between blocks it is nothing.
          const prev = parent.lastChild;
          if (prev && !(prev.nodeType === 1 && (BLOCKS.has(prev.nodeName) || prev.nodeName === 'LI'))) parent.append(' ');
        }
        continue;
      }
      if (child.nodeType !== Node.ELEMENT_NODE) continue; // comments and the like
      const name = child.nodeName.toUpperCase();
      if (DROP.has(name) || /mso-list:ignore/.test(style(child)) || /display:none/.test(style(child))) continue;
      if (wordItem(child)) {
        const marker = (child.textContent || '').trim();
        if (!list) {
          list = document.createElement(/^\(?\d+[.)]/.test(marker) ? 'ol' : 'ul');
          parent.append(list);
        }
        const li = document.createElement('li');
        cleanInto(child, li);
        list.append(li);
        continue;
      }
      list = null;
      let tag = KEEP[name];
      const s = style(child);
      // Google Docs wraps a whole paste in <b style="font-weight:normal">.
      if (name === 'B' && /font-weight:(normal|400)/.test(s)) tag = null;
      if (!tag && name === 'SPAN') tag = /font-weight:(bold|[6-9]00)/.test(s) ? 'strong' : /font-style:italic/.test(s) ? 'em' : null;
      if (!tag && (name === 'DIV' || name === 'SECTION' || name === 'ARTICLE')) {
        tag = Array.from(child.children).some((c) => BLOCKS.has(KEEP[c.nodeName] ? KEEP[c.nodeName].toUpperCase() : c.nodeName) || c.nodeName === 'DIV') ? null : 'p';
      }
      if (!tag) { cleanInto(child, parent); continue; }
      const out = document.createElement(tag);
      if (tag === 'a') {
        const href = (child.getAttribute('href') || '').trim();
        if (!/^(https?:|mailto:)/i.test(href)) { cleanInto(child, parent); continue; }
        out.setAttribute('href', href);
      }
      cleanInto(child, out);
      if (tag !== 'br' && !out.textContent.trim()) continue;
      parent.append(out);
    }
  }

  // Cleans pasted HTML into a fragment of the elements a body keeps.
  function cleanPaste(html) {
    const doc = new DOMParser().parseFromString(html, 'text/html'); // inert: nothing in it runs
    const frag = document.createDocumentFragment();
    cleanInto(doc.body, frag);
    return frag;
  }

  // --- The editor ------------------------------------------------------------------------------

  const form = $('#editor');
  if (form) editor(form);

  function editor(form) {
    const body = $('#body');
    const editable = form.dataset.editable === 'yes';
    let id = form.dataset.id || '';
    let revision = Number(form.dataset.revision) || 0;
    const state = form.dataset.state;
    let record = JSON.parse($('#record').textContent || '{}');
    const headlines = JSON.parse($('#inline').textContent || '{}');
    const status = $('#save-status');
    const autosaves = state === 'new' || state === 'draft' || state === 'submitted';
    const localKey = (which) => `${keptPrefix}${which || 'new'}`;
    // A new article's key is chosen here, once, so that a save retried after a lost answer
    // cannot make a second article.
    let newKey = '';
    let saving = false;
    let again = false;
    let lastSaved = '';
    let retry = null;
    let range = null;

    const show = (text) => { status.textContent = text; };

    // Inline related links show their target's current headline; only the link is stored.
    function dress(root) {
      for (const a of $$('a[href^="article:"]', root)) {
        a.classList.add('inline-related');
        a.setAttribute('contenteditable', 'false');
        if (!a.textContent.trim()) {
          a.textContent = headlines[a.getAttribute('href').slice(8)] || a.getAttribute('href').slice(8);
          a.dataset.auto = 'yes';
        }
      }
    }

    function serialize() {
      const copy = body.cloneNode(true);
      for (const a of $$('a[href^="article:"]', copy)) {
        if (a.dataset.auto) a.textContent = '';
        a.removeAttribute('data-auto');
        a.removeAttribute('contenteditable');
        a.removeAttribute('class');
      }
      // Text typed outside any paragraph goes into one.
      for (const n of Array.from(copy.childNodes)) {
        if (n.nodeType === Node.TEXT_NODE && n.textContent.trim()) {
          const p = document.createElement('p');
          n.replaceWith(p);
          p.append(n);
        }
      }
      return copy.innerHTML.replace(/<p><br><\/p>/g, '').trim();
    }

    const list = (v) => v.split(',').map((x) => x.trim()).filter(Boolean);

    function collect() {
      const out = { ...record };
      for (const k of ['id', 'key', 'revision', 'state', 'url', 'author_id', 'scheduled_at', 'embargo_until', 'open_by']) delete out[k];
      out.headline = $('#headline').value.trim();
      out.body = serialize();
      out.section = $('#section').value;
      out.lang = $('#lang').value;
      for (const name of ['summary', 'byline', 'credit', 'series', 'translation_of']) {
        const v = $(`#${name}`).value.trim();
        if (v) out[name] = v; else delete out[name];
      }
      for (const name of ['web_editors', 'topics']) out[name] = list($(`#${name}`).value);
      const episode = $('#episode').value.trim();
      if (out.series && episode) out.episode = Number(episode); else delete out.episode;
      out.related = $$('#related-list li').map((li) => li.dataset.key);
      return out;
    }

    function apply(article) {
      $('#headline').value = article.headline || '';
      $('#summary').value = article.summary || '';
      body.innerHTML = '';
      body.append(cleanStored(article.body || ''));
      for (const name of ['byline', 'credit', 'series', 'translation_of', 'section', 'lang']) {
        $(`#${name}`).value = article[name] || '';
      }
      $('#episode').value = article.episode || '';
      $('#web_editors').value = (article.web_editors || []).join(', ');
      $('#topics').value = (article.topics || []).join(', ');
      if (Array.isArray(article.related)) {
        const known = new Map($$('#related-list li').map((li) => [li.dataset.key, $('.title', li).textContent]));
        $('#related-list').textContent = '';
        for (const key of article.related) pin(key, known.get(key) || key);
      }
      dress(body);
      ensureParagraph();
    }

    // HTML from the server is already sanitized; it is parsed inertly all the same.
    function cleanStored(html) {
      const doc = new DOMParser().parseFromString(html, 'text/html');
      const frag = document.createDocumentFragment();
      for (const s of $$('script, style, iframe, object', doc)) s.remove();
      frag.append(...Array.from(doc.body.childNodes));
      return frag;
    }

    function ensureParagraph() {
      if (editable && !body.firstChild) body.innerHTML = '<p><br></p>';
    }

    // Every keystroke is kept in this browser until the server has it.
    function keepLocally() {
      try {
        localStorage.setItem(localKey(id), JSON.stringify({ base: revision, key: newKey, article: collect(), at: Date.now() }));
      } catch { /* a full or disabled storage: the server copy is all there is */ }
    }
    const forget = (which) => { try { localStorage.removeItem(localKey(which)); } catch { /* nothing kept */ } };

    const autosave = debounce(() => save(), 1500);
    function changed() {
      keepLocally();
      if (JSON.stringify(collect()) === lastSaved) return;
      if (!$('#merge').hidden) show('Merging: save when your text holds what you want of theirs.');
      else if (autosaves) { show('Unsaved changes: saving soon…'); autosave(); } else show('Unsaved changes: Save (Ctrl+S) to update the article readers see.');
    }

    async function save(explicit) {
      if (!editable) return;
      if (saving) { again = true; return; }
      if (!$('#conflict').hidden && $('#merge').hidden) { show('Choose how to settle the conflict first.'); return; }
      if (!$('#merge').hidden) {
        // Merging: only the editor's own Save says the merge is done.
        if (!explicit) { show('Merging: save when your text holds what you want of theirs.'); return; }
        revision = mergeBase;
      }
      const article = collect();
      if (!article.headline) { show('Not saved yet: write a headline.'); return; }
      const snapshot = JSON.stringify(article);
      if (id && snapshot === lastSaved) { show(`Saved: revision ${revision}.`); return; }
      saving = true;
      show('Saving…');
      let r;
      try {
        r = id
          ? await api('PUT', `/api/v1/articles/${id}`, { base_revision: revision, ...article })
          : await api('POST', '/api/v1/articles', { key: newKey, ...article });
      } catch {
        saving = false;
        show('Not saved: the connection is lost. Your text is kept in this browser; trying again in 10 seconds.');
        clearTimeout(retry);
        retry = setTimeout(save, 10000);
        return;
      }
      saving = false;
      if (r.ok) {
        revision = r.data.revision;
        record = { ...r.data };
        record.id = r.data.key;
        lastSaved = snapshot;
        $('#conflict').hidden = true;
        $('#merge').hidden = true;
        if (!id) {
          // The new article has an address now: the page takes it, with no reload, so that
          // the editor can go on typing.
          id = String(r.data.id);
          forget('');
          if (JSON.stringify(collect()) !== snapshot) keepLocally();
          form.dataset.id = id;
          window.history.replaceState(null, '', `/admin/articles/${id}`);
          adopt();
        }
        if (JSON.stringify(collect()) === snapshot) forget(id); else keepLocally();
        show(`Saved: revision ${revision}, ${when(new Date().toISOString())}.`);
        refreshSuggestions();
        if (again) { again = false; save(); }
      } else if (r.status === 409 && r.data.current_revision) {
        conflict(r.data);
      } else if (r.status === 409 && !id) {
        show('Not saved again: an earlier try already made this article. It is on the desk; your text is kept in this browser.');
      } else if (r.status === 401) {
        show('Not saved: the session has ended. Log in again in another tab; your text is kept in this browser.');
      } else {
        show(`Not saved: ${r.data.message || r.status}`);
      }
    }

    // --- A save refused as stale: what the other saved, and three ways on ---
    let theirs = null;
    let mergeBase = 0;
    function conflict(data) {
      theirs = data;
      $('#merge').hidden = true;
      const box = $('#conflict');
      $('#conflict-message').textContent = `${data.saved_by} saved revision ${data.current_revision} at ${when(data.saved_at)}, after the revision ${revision} this text is based on. Nothing of yours is lost: it is still here and in this browser.`;
      const diff = $('#conflict-diff');
      diff.textContent = '';
      const d = data.diff || {};
      if ((d.fields || []).length) {
        const ul = el('ul');
        for (const f of d.fields) {
          const li = el('li', `${f.field}: `);
          li.append(el('del', typeof f.before === 'string' ? f.before : JSON.stringify(f.before)), ' → ', el('ins', typeof f.after === 'string' ? f.after : JSON.stringify(f.after)));
          ul.append(li);
        }
        diff.append(el('h3', 'Their changes to the details'), ul);
      }
      const paragraphs = (d.body || []).filter((p) => p.op !== 'same');
      if (paragraphs.length) {
        diff.append(el('h3', 'Their changes to the body'));
        for (const p of paragraphs) {
          const para = el('p');
          if (p.op === 'added') para.append(el('ins', p.text));
          else if (p.op === 'removed') para.append(el('del', p.text));
          else for (const w of p.words) para.append(w.op === 'added' ? el('ins', w.text) : w.op === 'removed' ? el('del', w.text) : w.text, ' ');
          diff.append(para);
        }
      }
      box.hidden = false;
      box.focus();
      show(`Not saved: ${data.saved_by} saved in between.`);
    }
    for (const button of $$('[data-resolve]')) {
      button.addEventListener('click', () => {
        if (!theirs) return;
        const way = button.dataset.resolve;
        if (way === 'theirs') {
          revision = theirs.current_revision;
          record = { ...theirs.current, id: theirs.current.key };
          apply(theirs.current);
          lastSaved = JSON.stringify(collect());
          forget(id);
          $('#conflict').hidden = true;
          show(`Now showing ${theirs.saved_by}'s revision ${revision}.`);
          theirs = null;
        } else if (way === 'mine') {
          revision = theirs.current_revision;
          $('#conflict').hidden = true;
          theirs = null;
          save();
        } else {
          // The base moves to theirs only when the merged text is saved.
          mergeBase = theirs.current_revision;
          const view = $('#theirs');
          view.textContent = '';
          view.append(cleanStored(theirs.current.body || ''));
          $('#merge').hidden = false;
          keepLocally();
          show('Merging: bring what you want of theirs into your text, then save.');
          body.focus();
        }
      });
    }

    // --- Toolbar and keys ---
    function remember() {
      const sel = getSelection();
      if (sel.rangeCount && body.contains(sel.getRangeAt(0).commonAncestorContainer)) range = sel.getRangeAt(0).cloneRange();
    }
    function restore() {
      body.focus();
      if (range) { const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range); }
    }
    function command(name, value) {
      restore();
      document.execCommand(name, false, value);
      changed();
    }
    document.addEventListener('selectionchange', remember);

    function insertNodes(frag) {
      restore();
      const sel = getSelection();
      let r = sel.rangeCount ? sel.getRangeAt(0) : null;
      if (!r || !body.contains(r.commonAncestorContainer)) {
        r = document.createRange();
        r.selectNodeContents(body);
        r.collapse(false);
      }
      r.deleteContents();
      const nodes = Array.from(frag.childNodes);
      if (!nodes.length) return;
      const blocky = nodes.some((n) => n.nodeType === 1 && BLOCKS.has(n.nodeName));
      const last = nodes[nodes.length - 1];
      if (!blocky) {
        r.insertNode(frag);
      } else {
        // Inline runs between blocks become paragraphs.
        const blocks = document.createDocumentFragment();
        let para = null;
        for (const n of nodes) {
          if (n.nodeType === 3 && !n.textContent.trim() && !para) continue;
          if (n.nodeType === 1 && BLOCKS.has(n.nodeName)) { para = null; blocks.append(n); } else {
            if (!para) { para = document.createElement('p'); blocks.append(para); }
            para.append(n);
          }
        }
        let block = r.startContainer;
        while (block && block !== body && block.parentNode !== body) block = block.parentNode;
        if (!block || block === body) {
          body.append(blocks);
        } else {
          const tail = document.createRange();
          tail.setStart(r.startContainer, r.startOffset);
          tail.setEndAfter(block);
          const rest = tail.extractContents();
          const lastBlock = blocks.lastChild;
          block.after(blocks);
          lastBlock.after(rest);
          const empty = (n) => n && n.nodeType === 1 && !n.textContent.trim() && !n.querySelector('img');
          if (empty(block)) block.remove();
          if (empty(lastBlock.nextSibling)) lastBlock.nextSibling.remove();
        }
      }
      const after = document.createRange();
      after.selectNodeContents(last.nodeType === 1 && last.parentNode ? last : body);
      after.collapse(false);
      sel.removeAllRanges();
      sel.addRange(after);
      range = after.cloneRange();
      changed();
    }

    if (editable) {
      document.execCommand('defaultParagraphSeparator', false, 'p');
      document.execCommand('styleWithCSS', false, false);
      for (const b of $$('[data-block]')) b.addEventListener('click', () => command('formatBlock', b.dataset.block));
      for (const b of $$('[data-mark]')) b.addEventListener('click', () => command(b.dataset.mark));
      for (const b of $$('[data-list]')) {
        if (b.nodeName === 'BUTTON') b.addEventListener('click', () => command(b.dataset.list === 'ol' ? 'insertOrderedList' : 'insertUnorderedList'));
      }
      for (const b of $$('[data-open]')) b.addEventListener('click', () => open(b.dataset.open));
      // The toolbar is one stop for Tab; the arrow keys, Home and End move within it.
      const tools = $$('.toolbar button');
      tools.forEach((b, i) => b.setAttribute('tabindex', i === 0 ? '0' : '-1'));
      $('.toolbar').addEventListener('keydown', (e) => {
        const i = tools.indexOf(document.activeElement);
        if (i < 0) return;
        const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tools.length - 1 }[e.key];
        if (to === undefined) return;
        e.preventDefault();
        const next = tools[(to + tools.length) % tools.length];
        tools.forEach((b) => b.setAttribute('tabindex', '-1'));
        next.setAttribute('tabindex', '0');
        next.focus();
      });
      body.addEventListener('input', changed);
      body.addEventListener('paste', (e) => {
        e.preventDefault();
        const html = e.clipboardData.getData('text/html');
        if (html) { insertNodes(cleanPaste(html)); return; }
        const text = e.clipboardData.getData('text/plain');
        const frag = document.createDocumentFragment();
        const parts = text.split(/\n\s*\n/).filter((t) => t.trim());
        if (parts.length > 1) for (const t of parts) frag.append(el('p', t.replace(/\s+/g, ' ').trim()));
        else frag.append(text.replace(/\s+/g, ' '));
        insertNodes(frag);
      });
      body.addEventListener('keydown', (e) => {
        const mod = e.ctrlKey || e.metaKey;
        if (!mod) return;
        const key = e.key.toLowerCase();
        if (key === 'k') { e.preventDefault(); remember(); open(e.shiftKey ? 'related-dialog' : 'link-dialog'); }
        if (e.altKey && ['0', '2', '3'].includes(e.key)) { e.preventDefault(); command('formatBlock', e.key === '0' ? 'p' : `h${e.key}`); }
      });
      for (const input of $$('input, select, textarea', $('.editor-side'))) {
        if (!input.closest('.workflow') && input.id !== 'related-find') input.addEventListener('input', changed);
      }
      $('#headline').addEventListener('input', changed);
      $('#summary').addEventListener('input', changed);
    }
    form.addEventListener('submit', (e) => { e.preventDefault(); save(true); });
    document.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') { e.preventDefault(); save(true); }
    });

    // --- Dialogs: link, image, related headline ---
    function open(which) {
      remember();
      const dialog = $(`#${which}`);
      if (which === 'related-dialog' && !$('#inline-find').value.trim()) offerSuggestions();
      $$('.error', dialog).forEach((x) => { x.textContent = ''; });
      dialog.returnValue = '';
      dialog.showModal();
    }
    for (const dialog of $$('dialog')) {
      for (const b of $$('[data-close]', dialog)) b.addEventListener('click', () => dialog.close('cancel'));
    }
    const linkDialog = $('#link-dialog');
    // The link is made as the dialog closes, before anything else can move the caret.
    $('form', linkDialog).addEventListener('submit', (e) => {
      e.preventDefault();
      const url = $('#link-url').value.trim();
      linkDialog.close('ok');
      $('#link-url').value = '';
      if (/^(https?:\/\/|mailto:)/i.test(url)) command('createLink', url); else restore();
    });
    linkDialog.addEventListener('close', () => { if (linkDialog.returnValue !== 'ok') restore(); });
    $('form', $('#related-dialog')).addEventListener('submit', (e) => e.preventDefault());
    const imageDialog = $('#image-dialog');
    $('form', imageDialog).addEventListener('submit', async (e) => {
      e.preventDefault();
      const error = $('#image-error');
      const file = $('#image-file').files[0];
      const alt = $('#image-alt').value.trim();
      if (!file) { error.textContent = 'Choose an image file.'; return; }
      if (!alt) { error.textContent = 'Write the alt text: what the image shows.'; $('#image-alt').focus(); return; }
      const insert = e.submitter || $('button[type=submit]', imageDialog);
      if (insert.disabled) return;
      insert.disabled = true;
      error.textContent = 'Uploading…';
      let r;
      try { r = await api('POST', '/api/v1/media', undefined, file); } catch { r = null; }
      insert.disabled = false;
      if (!r) { error.textContent = 'The upload failed: the connection is lost.'; return; }
      if (!r.ok) { error.textContent = r.data.message || `The upload was refused (${r.status}).`; return; }
      const figure = el('figure');
      figure.append(el('img', null, { src: r.data.src, srcset: r.data.srcset, sizes: r.data.sizes, width: r.data.width, height: r.data.height, alt, loading: 'lazy' }));
      const caption = $('#image-caption').value.trim();
      const credit = $('#image-credit').value.trim();
      if (caption || credit) {
        const fc = el('figcaption', caption);
        if (credit) { if (caption) fc.append(' '); fc.append(el('small', credit)); }
        figure.append(fc);
      }
      imageDialog.close('done');
      const frag = document.createDocumentFragment();
      frag.append(figure);
      insertNodes(frag);
      for (const id of ['image-file', 'image-alt', 'image-caption', 'image-credit']) $(`#${id}`).value = '';
      error.textContent = '';
    });

    // Finds published articles by their headline as the editor types.
    function finder(input, results, count, choose) {
      const run = debounce(async () => {
        const q = input.value.trim();
        results.textContent = '';
        if (q.length < 2) { count.textContent = ''; return; }
        let r;
        try { r = await api('GET', `/api/v1/links?q=${encodeURIComponent(q)}`); } catch { count.textContent = 'The server cannot be reached.'; return; }
        if (!r.ok) { count.textContent = r.data.message || 'Nothing found.'; return; }
        const found = r.data.articles || [];
        count.textContent = found.length ? `${found.length} found` : 'Nothing found.';
        for (const a of found) {
          const b = el('button', a.headline, { type: 'button', 'data-key': a.key });
          b.addEventListener('click', () => choose(a));
          const li = el('li');
          li.append(b, el('span', ` ${when(a.published)}`, { class: 'help' }));
          results.append(li);
        }
      }, 200);
      input.addEventListener('input', run);
      input.addEventListener('keydown', (e) => {
        if (e.key === 'ArrowDown') { const first = $('button', results); if (first) { e.preventDefault(); first.focus(); } }
        if (e.key === 'Enter') e.preventDefault();
      });
    }
    const relatedDialog = $('#related-dialog');
    // Before anything is typed, the archive's suggestions for this article are offered.
    function offerSuggestions() {
      const results = $('#inline-found');
      results.textContent = '';
      const offered = suggestions.filter((x) => !x.blocked).slice(0, 6);
      $('#inline-count').textContent = offered.length ? 'Suggested for this article:' : '';
      for (const a of offered) {
        const b = el('button', a.headline, { type: 'button', 'data-key': a.key });
        b.addEventListener('click', () => chooseInline(a));
        const li = el('li');
        li.append(b);
        results.append(li);
      }
    }
    function chooseInline(a) {
      relatedDialog.close('done');
      headlines[a.key] = a.headline;
      const p = el('p');
      const link = el('a', null, { href: `article:${a.key}` });
      p.append(link);
      dress(p);
      const frag = document.createDocumentFragment();
      frag.append(p);
      insertNodes(frag);
      $('#inline-find').value = '';
      $('#inline-found').textContent = '';
    }
    finder($('#inline-find'), $('#inline-found'), $('#inline-count'), chooseInline);

    // --- Related stories: find, pin, order, remove ---
    function pin(key, headline) {
      if ($$('#related-list li').some((li) => li.dataset.key === key)) return;
      const li = el('li', null, { 'data-key': key });
      li.append(el('span', headline, { class: 'title' }),
        el('button', '↑', { type: 'button', class: 'icon', 'data-move': '-1', 'aria-label': `Move up: ${headline}` }),
        el('button', '↓', { type: 'button', class: 'icon', 'data-move': '1', 'aria-label': `Move down: ${headline}` }),
        el('button', '✕', { type: 'button', class: 'icon', 'data-remove': 'yes', 'aria-label': `Remove: ${headline}` }));
      $('#related-list').append(li);
    }
    if (editable) {
      finder($('#related-find'), $('#related-found'), $('#related-count'), (a) => {
        pin(a.key, a.headline);
        changed();
        $('#related-find').focus();
      });
      $('#related-list').addEventListener('click', (e) => {
        const b = e.target.closest('button');
        if (!b) return;
        const li = b.closest('li');
        if (b.dataset.remove) li.remove();
        else if (b.dataset.move === '-1' && li.previousElementSibling) li.previousElementSibling.before(li);
        else if (b.dataset.move === '1' && li.nextElementSibling) li.nextElementSibling.after(li);
        b.focus();
        changed();
      });
    }

    // A new article's first save: the server's page for it gives the state line and the
    // workflow actions this account may take.
    async function adopt() {
      try {
        const page = await fetch(`/admin/articles/${id}`, { credentials: 'same-origin' });
        const doc = new DOMParser().parseFromString(await page.text(), 'text/html');
        for (const css of ['.state', '.workflow']) {
          const fresh = $(css, doc);
          const here = $(css);
          if (!fresh) continue;
          const node = document.importNode(fresh, true);
          if (here) here.replaceWith(node); else $('.editor-side').append(node);
        }
        document.title = doc.title;
        bindActions();
        heartbeat();
        setInterval(heartbeat, 60000);
      } catch { show('Saved; reload the page for its workflow actions.'); }
    }

    // --- Suggestions from the archive: why each, pin or block ---
    let suggestions = [];
    async function loadSuggestions() {
      const box = $('#suggested');
      if (!id || !box) return;
      let r;
      try { r = await api('GET', `/api/v1/articles/${id}/suggestions`); } catch { return; }
      const count = $('#suggested-count');
      if (!r.ok) { count.textContent = r.data.message || ''; return; }
      suggestions = r.data.suggestions || [];
      box.textContent = '';
      count.textContent = suggestions.length ? '' : 'Nothing in the archive is like it yet.';
      for (const s of suggestions) {
        const li = el('li', null, s.blocked ? { class: 'blocked' } : {});
        li.append(el('a', s.headline, { href: s.url }));
        const why = [];
        if (s.shared_terms.length) why.push(`shared words: ${s.shared_terms.join(', ')}`);
        if (s.shared_topics.length) why.push(`shared topics: ${s.shared_topics.join(', ')}`);
        li.append(el('span', why.length ? ` (${why.join('; ')})` : '', { class: 'help' }));
        if (editable && !s.pinned && !s.blocked) {
          const b = el('button', 'Pin', { type: 'button', class: 'icon', 'aria-label': `Pin: ${s.headline}` });
          b.addEventListener('click', () => { pin(s.key, s.headline); changed(); b.remove(); });
          li.append(b);
        }
        if (editable) {
          const b = el('button', s.blocked ? 'Unblock' : 'Block', { type: 'button', class: 'icon', 'aria-label': `${s.blocked ? 'Unblock' : 'Block'}: ${s.headline}` });
          b.addEventListener('click', async () => {
            const r2 = await api(s.blocked ? 'DELETE' : 'POST', `/api/v1/articles/${id}/suggestions/${encodeURIComponent(s.key)}/block`);
            if (r2.ok) { show(s.blocked ? 'Unblocked: it may be suggested again.' : 'Blocked: it is no longer suggested under this article.'); loadSuggestions(); } else show(r2.data.message || `Refused (${r2.status}).`);
          });
          li.append(b);
        }
        box.append(li);
      }
    }
    const refreshSuggestions = debounce(loadSuggestions, 3000);

    // --- Workflow ---
    function bindActions() {
    for (const b of $$('[data-action]')) {
      if (b.dataset.bound) continue;
      b.dataset.bound = 'yes';
      b.addEventListener('click', async () => {
        const action = b.dataset.action;
        const request = { action };
        if (action === 'schedule') {
          const at = $('#schedule-at').value;
          if (!at) { show('Choose when to publish.'); $('#schedule-at').focus(); return; }
          request.at_local = at;
        }
        if (action === 'embargo' && $('#embargo-at').value) request.at_local = $('#embargo-at').value;
        if (action === 'correct') {
          request.note = $('#correction-note').value.trim();
          if (!request.note) { show('Write the correction readers will see.'); $('#correction-note').focus(); return; }
        }
        if (editable) {
          // A save already on its way (an autosave) ends first: a save asked for meanwhile
          // would only be queued, and the action would be taken on text not yet saved.
          if (saving) show('Saving first…');
          while (saving) await new Promise((done) => setTimeout(done, 50));
          if (JSON.stringify(collect()) !== lastSaved) {
            await save();
            // save() has said why it did not save.
            if (JSON.stringify(collect()) !== lastSaved) return;
          }
        }
        let r;
        try { r = await api('POST', `/api/v1/articles/${id}/actions`, request); } catch { show('The server cannot be reached: nothing was changed.'); return; }
        const problems = $('#problems');
        if (r.ok) {
          forget(id);
          problems.hidden = true;
          show(`Done: the article is ${r.data.state}.`);
          location.reload();
          return;
        }
        if (r.data.problems) {
          problems.textContent = '';
          problems.append(el('p', r.data.message));
          const ul = el('ul');
          for (const p of r.data.problems) ul.append(el('li', p));
          problems.append(ul);
          problems.hidden = false;
          problems.setAttribute('tabindex', '-1');
          problems.focus();
        }
        show(`Refused: ${r.data.message || r.status}`);
      });
    }
    }
    bindActions();

    // --- Who else has it open ---
    async function heartbeat() {
      try {
        const r = await api('POST', `/api/v1/articles/${id}/open`);
        if (!r.ok) return;
        const me = $('.who') ? $('.who').textContent : '';
        const others = (r.data.open_by || []).map((o) => o.username).filter((u) => u !== me);
        const box = $('#others');
        box.hidden = !others.length;
        box.textContent = others.length ? `Also open by ${others.join(', ')}: you may save over each other; Dateline will tell you if you do.` : '';
      } catch { /* offline: try at the next beat */ }
    }

    // --- Start: the server's text, or what this browser kept of it ---
    dress(body);
    ensureParagraph();
    lastSaved = id ? JSON.stringify(collect()) : '';
    if (editable) {
      let kept = null;
      try { kept = JSON.parse(localStorage.getItem(localKey(id)) || 'null'); } catch { kept = null; }
      if (!id) {
        const random = new Uint8Array(8);
        crypto.getRandomValues(random);
        newKey = (kept && kept.key) || `a-${Array.from(random, (b) => b.toString(16).padStart(2, '0')).join('')}`;
      }
      if (kept && kept.article && JSON.stringify(kept.article) !== lastSaved) {
        const base = kept.base;
        apply(kept.article);
        if (!id || base === revision) {
          show('Restored what you wrote in this browser that was not saved yet.');
          if (autosaves) autosave();
        } else {
          // Someone saved since this browser's copy was made: the server says what changed.
          revision = base;
          save();
        }
      }
      if (id) { heartbeat(); setInterval(heartbeat, 60000); }
    }
    if (id) {
      loadSuggestions();
    }
  }
})();
