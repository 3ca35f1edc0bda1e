"""The Chat tab's scripts, which the source viewer installs when it mounts (its `js_on_load`, in
ui/chat_tab.py): footnote clicks and the source viewer (CITE_JS), where a finished answer is
shown from (TURN_START_JS), and what opens and closes without a round trip (LAYOUT_JS)."""

# Installed by the source viewer when it mounts: a click on any footnote (in the chat, the
# viewer's own navigation or the sources strip) sends its "#cite-TURN-N" target to the server,
# which answers with the viewer's new HTML. Delegated on the document, because chat messages
# are re-rendered as they stream.
CITE_JS = """
if (window.__aaCiteHandler) document.removeEventListener('click', window.__aaCiteHandler, true);
window.__aaCiteHandler = (event) => {
  const target = event.target instanceof Element ? event.target : null;
  const back = target ? target.closest('a.aa-back') : null;
  const column = document.querySelector('#aa-viewer-col');
  if (back) {
    event.preventDefault();
    if (column) column.classList.add('aa-sheet-closed');
    const from = window.__aaLastCite;
    if (from && document.contains(from)) { from.focus(); from.scrollIntoView({block: 'nearest'}); }
    return;
  }
  const copy = target ? target.closest('a.aa-copy') : null;
  if (copy) {
    event.preventDefault();
    const text = copy.parentElement?.querySelector('.aa-copy-text')?.textContent || '';
    navigator.clipboard.writeText(text).then(() => {
      copy.textContent = 'Copied';
      setTimeout(() => { copy.textContent = 'Copy with sources'; }, 2000);
    });
    return;
  }
  const link = target ? target.closest('a.aa-cite') : null;
  const href = link ? (link.getAttribute('href') || '') : '';
  if (!href.startsWith('#cite-')) return;
  event.preventDefault();
  if (!link.closest('#source-viewer')) window.__aaLastCite = link;
  if (column) column.classList.remove('aa-sheet-closed');
  trigger('click', {cite: href});
};
document.addEventListener('click', window.__aaCiteHandler, true);
watch('value', () => {
  const viewer = element.querySelector('.aa-viewer-cited');
  if (viewer) viewer.focus({preventScroll: true});
  const mark = element.querySelector('blockquote mark.aa-quote');
  if (mark) mark.scrollIntoView({block: 'nearest'});
});
"""


# Installed beside CITE_JS. The chat scrolls to the end of the newest message, so an answer
# taller than the chat would show only its end and hide where its certainty is said (the
# decline's callout, the "Not sure" title, the short answer): a finished answer is shown from
# its start instead, and one left below the view is brought up to its start. A new question
# scrolls back to the end, so the chat follows what streams in.
TURN_START_JS = """
if (window.__aaTurnObserver) window.__aaTurnObserver.disconnect();
(function install(tries) {
  const chat = document.querySelector('#chat');
  if (!chat) {  // not mounted yet
    if (tries > 0) setTimeout(() => install(tries - 1), 250);
    return;
  }
  const scroller = (el) => {
    for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
      const overflow = getComputedStyle(node).overflowY;
      if ((overflow === 'auto' || overflow === 'scroll') && node.scrollHeight > node.clientHeight + 1)
        return node;
    }
    return null;
  };
  const count = (selector) => chat.querySelectorAll(selector).length;
  let asked = count('[data-testid="user"]'), finals = count('.aa-final');
  const showStart = (onlyAtEnd) => {
    const last = [...chat.querySelectorAll('.aa-final')].pop();
    const box = last && scroller(last);
    if (!box) return;
    if (onlyAtEnd && box.scrollHeight - box.scrollTop - box.clientHeight > 4) return;
    const message = last.closest('.message') || last;
    const gap = message.getBoundingClientRect().top - box.getBoundingClientRect().top;
    // Above the view (a tall answer shown by its end), or with no more than its first 48 px
    // (about a line and a half) in sight below: on a loaded machine the chat's own scroll to
    // the end sometimes never comes, and the answer would stay unseen.
    if (gap < 0 || gap > box.clientHeight - 48) box.scrollTop += gap - 8;
  };
  window.__aaTurnObserver = new MutationObserver(() => {
    const nowAsked = count('[data-testid="user"]'), nowFinals = count('.aa-final');
    if (nowAsked > asked) {
      const box = scroller([...chat.querySelectorAll('[data-testid="user"]')].pop());
      if (box) box.scrollTop = box.scrollHeight;
    }
    if (nowFinals > finals) {
      // After the chat's own scroll to the end, which comes 300 ms after it renders; the second
      // look only if that scroll came later still.
      setTimeout(() => showStart(false), 450);
      setTimeout(() => showStart(true), 900);
    }
    asked = nowAsked;
    finals = nowFinals;
  });
  window.__aaTurnObserver.observe(chat, {subtree: true, childList: true});
})(40);
"""


# Installed beside CITE_JS: what opens and closes without a round trip. The header's
# Conversations button opens the conversations drawer (a phone's; on a desktop they are a
# sidebar and the button is hidden), which its close button, Escape, a click beside it, a
# chosen conversation or New conversation close again, focus going back to the header's
# button. The scope chip opens the scope panel above the question bar, the open conversation's
# menu button its Rename, Export and Delete, and an article row's menu (a <details>) closes
# when another opens. Each state is a data-open attribute on the drawer or on the panel's
# holder, which the style sheet reads and Gradio's re-renders leave alone.
LAYOUT_JS = """
if (window.__aaLayout) {
  document.removeEventListener('click', window.__aaLayout.click, true);
  document.removeEventListener('keydown', window.__aaLayout.key, true);
  document.removeEventListener('change', window.__aaLayout.change, true);
  document.removeEventListener('focusin', window.__aaLayout.focus, true);
}
window.__aaLayout = (() => {
  const $ = (selector) => document.querySelector(selector);
  const expanded = (selector, open) =>
    document.querySelectorAll(selector).forEach((b) => b.setAttribute('aria-expanded', String(open)));
  const drawer = () => $('#aa-conversations');
  // Focus `selector` once it can take it: on a slow phone the drawer or panel may still be
  // sliding in (hidden) when a fixed delay ends, and a focus() then is silently lost.
  const focusWhenShown = (selector, wanted, tries = 40) => {
    // Closed again meanwhile, or the user is already inside: leave the focus where it is.
    if (!wanted()) return;
    const el = $(selector);
    if (el && el.getClientRects().length) {
      el.focus();
      if (document.activeElement === el) return;
    }
    if (tries > 0) setTimeout(() => focusWhenShown(selector, wanted, tries - 1), 50);
  };
  // Open, and a drawer: the header's button is shown (a phone's width).
  const drawerOpen = () => !!drawer()?.hasAttribute('data-open') &&
    !!$('#aa-drawer-open')?.getClientRects().length;
  const openDrawer = () => {
    const tab = $('#tab-chat-button');
    if (tab && tab.getAttribute('aria-selected') !== 'true') tab.click();
    drawer()?.setAttribute('data-open', '');
    expanded('#aa-drawer-open', true);
    focusWhenShown('#aa-conversations .aa-drawer-close', () => !!drawer()?.hasAttribute('data-open')
      && !drawer().contains(document.activeElement));
  };
  const closeDrawer = (refocus) => {
    if (!drawerOpen()) return;
    drawer().removeAttribute('data-open');
    expanded('#aa-drawer-open', false);
    if (refocus) $('#aa-drawer-open')?.focus();
  };
  // A panel (scope, conversation menu) shown while its holder has data-open.
  const panels = [['#aa-ask-bar', '#scope-chip', '#scope-panel', '#scope input'],
                  ['#conv-actions', '#conv-menu', '#conv-menu-panel',
                   '#conv-title input, #conv-title textarea']];
  const setPanel = ([holder, button, panel, first], open, refocus) => {
    const box = $(holder);
    if (!box || box.hasAttribute('data-open') === open) return false;
    if (open) box.setAttribute('data-open', ''); else box.removeAttribute('data-open');
    expanded(button, open);
    if (open) focusWhenShown(first, () => box.hasAttribute('data-open')
      && !$(panel)?.contains(document.activeElement));
    else if (refocus) $(button)?.focus();
    return true;
  };
  const click = (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    if (target.closest('#aa-drawer-open')) {
      event.preventDefault();
      if (drawerOpen()) closeDrawer(true); else openDrawer();
      return;
    }
    if (target.closest('.aa-drawer-close')) { closeDrawer(true); return; }
    if (drawerOpen() && !target.closest('#aa-conversations')) {
      // A click on the dimmed page beside the drawer only closes it.
      event.preventDefault();
      event.stopPropagation();
      closeDrawer(true);
      return;
    }
    if (drawerOpen() && target.closest('#new-chat')) setTimeout(() => closeDrawer(true), 0);
    for (const panel of panels) {
      if (target.closest(panel[1])) setPanel(panel, !$(panel[0])?.hasAttribute('data-open'));
      else if (!target.closest(panel[2])) setPanel(panel, false);
    }
    document.querySelectorAll('details.aa-row-menu[open]').forEach((menu) => {
      if (!menu.contains(target)) menu.open = false;
    });
  };
  const key = (event) => {
    if (event.key !== 'Escape') return;
    const menu = event.target instanceof Element ? event.target.closest('details.aa-row-menu[open]') : null;
    if (menu) { menu.open = false; menu.querySelector('summary')?.focus(); return; }
    for (const panel of panels) {
      const inside = event.target instanceof Element && event.target.closest(panel[0]);
      if (inside && setPanel(panel, false, true)) return;
    }
    if (drawerOpen()) closeDrawer(true);
  };
  const change = (event) => {
    // A conversation chosen in the drawer opens in the chat behind it.
    if (event.target instanceof Element && event.target.closest('#conv-list')) closeDrawer(true);
  };
  // The toggles say whether their panel is open, from when they are first reached (the
  // conversation menu is only rendered once a conversation is open).
  const label = () => {
    for (const [holder, button, panel] of panels) {
      const toggle = $(button);
      if (!toggle || toggle.hasAttribute('aria-controls')) continue;
      toggle.setAttribute('aria-controls', panel.slice(1));
      toggle.setAttribute('aria-expanded', String(!!$(holder)?.hasAttribute('data-open')));
    }
  };
  const focus = () => label();
  document.addEventListener('click', click, true);
  document.addEventListener('keydown', key, true);
  document.addEventListener('change', change, true);
  document.addEventListener('focusin', focus, true);
  setTimeout(label, 500);
  return {click, key, change, focus};
})();
"""
