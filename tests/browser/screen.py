"""What a person's screen shows, measured: the two screens of the tracker's people, signing in, and the
checks every page must pass on them (nothing wider than the screen, no word broken across lines, no text
running out of its box, tap targets big enough, no serious accessibility fault), plus a screenshot for a
person to look at.

Tap targets: at least 44×44 CSS px on the phone (WCAG 2.5.5's size: a technician in a server room taps
with a thumb, sometimes in gloves) and WCAG 2.5.8's 24×24 on the wall screen's width. A checkbox or radio
button counts with its label (tapping the label ticks it); a link inside a sentence is exempt, as both
criteria say.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.browser.tracker import Person, Tracker

# The people's own browsers speak Indonesian and keep Pekalongan's time (the date pickers follow).
PEKALONGAN = {"locale": "id-ID", "timezone_id": "Asia/Jakarta"}
PHONE = {
    **PEKALONGAN,
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
WALL = {**PEKALONGAN, "viewport": {"width": 1920, "height": 1080}}
SCREENS = {"phone": PHONE, "wall": WALL}
MIN_TARGET = {"phone": 44, "wall": 24}

# The layout checks, run in the page. Elements inside a box that scrolls or clips sideways on its own are
# that box's business: only the box itself must fit. Only the outermost element sticking out is named.
LAYOUT_FAULTS = r"""
([width, minTarget]) => {
  // The screen's width, not innerWidth: a mobile browser widens its layout viewport to content that does
  // not fit and zooms out, which is exactly what must not happen.
  const faults = [];
  const name = (el) => {
    const classes = typeof el.className === 'string' ? el.className.trim().split(/\s+/).filter(Boolean) : [];
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + classes.map((c) => '.' + c).join('');
  };
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      parts.unshift(name(e));
    }
    return parts.join(' > ');
  };
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    return el.checkVisibility({ visibilityProperty: true }) && box.width > 0 && box.height > 0;
  };
  const inOwnScrollBox = (el) => {
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      if (['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(e).overflowX)) return true;
    }
    return false;
  };

  const scrolling = document.scrollingElement.scrollWidth;
  if (scrolling > width) faults.push(`the page scrolls sideways: ${scrolling} px on a ${width} px screen`);
  if (window.innerWidth > width) faults.push(`the browser zoomed out to fit ${window.innerWidth} px`);
  const out = new Set();
  for (const el of document.body.querySelectorAll('*')) {
    if (el.parentElement && out.has(el.parentElement)) { out.add(el); continue; }
    if (!shown(el)) continue;
    const box = el.getBoundingClientRect();
    if ((box.right > width + 0.5 || box.left < -0.5) && !inOwnScrollBox(el)) {
      out.add(el);
      faults.push(`sticks out: ${path(el)} spans ${Math.round(box.left)}..${Math.round(box.right)} px`);
    }
  }

  // No word broken across lines: a word of up to 24 letters fits any line of these pages. Longer codes,
  // e-mail addresses and URLs may wrap; a hyphen or a slash is a place where a line may end.
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode()); ) {
    const parent = node.parentElement;
    if (!parent || !shown(parent) || parent.closest('pre, script, style, svg, .skip')) continue;
    const words = /[^\s\-\/]+/g;
    for (let m; (m = words.exec(node.textContent)); ) {
      if (m[0].length > 24 || /@|:\/\//.test(m[0])) continue;
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const boxes = [...range.getClientRects()].filter((r) => r.width > 0);
      const lines = new Set(boxes.map((r) => Math.round(r.top)));
      if (lines.size > 1) faults.push(`the word "${m[0]}" breaks across lines in ${path(parent)}`);
    }
  }

  // No text running out of its own box over its neighbour (a label column too narrow for its word).
  for (const el of document.body.querySelectorAll('*')) {
    if (!shown(el) || el.closest('pre, script, style, svg, .skip') || inOwnScrollBox(el)) continue;
    if (el.clientWidth === 0 || getComputedStyle(el).overflowX !== 'visible') continue;
    const ownText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (ownText && el.scrollWidth > el.clientWidth + 1) {
      faults.push(`text runs out of its box: ${path(el)} needs ${el.scrollWidth} px, has ${el.clientWidth}`);
    }
  }

  // A stacked table's column name (its ::before, which no box measures) fits the column its grid gives it.
  const pen = document.createElement('canvas').getContext('2d');
  for (const td of document.querySelectorAll('td[data-label]')) {
    const name = getComputedStyle(td, '::before');
    if (!shown(td) || name.content === 'none' || getComputedStyle(td).display !== 'grid') continue;
    pen.font = name.font;
    const needs = Math.max(...td.dataset.label.split(/\s+/).map((word) => pen.measureText(word).width));
    const has = parseFloat(getComputedStyle(td).gridTemplateColumns);
    if (needs > has + 0.5) {
      faults.push(`text runs out of its box: ${path(td)}::before needs ${Math.ceil(needs)} px, has ${has}`);
    }
  }

  const inSentence = (a) => {
    const rest = a.parentElement.textContent.replace(a.textContent, '');
    return /[A-Za-z0-9]/.test(rest) && !a.closest('nav, .toolbar');
  };
  const controls = 'a[href], button, input:not([type=hidden]), select, textarea, summary';
  for (const el of document.querySelectorAll(controls)) {
    if (!shown(el) || el.closest('.skip') || el.matches('.skip')) continue;
    if (el.matches('a') && inSentence(el)) continue;
    let box = el.getBoundingClientRect();
    if (el.matches('input[type=checkbox], input[type=radio]')) {
      const label = el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`));
      if (label) box = label.getBoundingClientRect();
    }
    if (box.width < minTarget - 0.5 || box.height < minTarget - 0.5) {
      const size = `${Math.round(box.width)}×${Math.round(box.height)} px`;
      faults.push(`tap target too small: ${path(el)} is ${size}`);
    }
  }
  return faults;
}
"""


def open_page(chromium: Any, tracker: Tracker, screen: str, person: Person | None = None) -> Any:
    """A new browser context (its own cookies: one person) on ``screen``, signed in as ``person``."""
    context = chromium.new_context(base_url=tracker.url, **SCREENS[screen])
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.requests = requests  # every URL the page asked for, to prove nothing leaves the tracker
    if person is not None:
        sign_in(page, person)
    return page


def sign_in(page: Any, person: Person) -> None:
    page.goto("/login")
    page.fill("#username", person.username)
    page.fill("#password", person.password)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/(cases|noc)$"))


def layout_faults(page: Any, screen: str) -> list[str]:
    return page.evaluate(LAYOUT_FAULTS, [SCREENS[screen]["viewport"]["width"], MIN_TARGET[screen]])


def accessibility_faults(page: Any) -> list[str]:
    """axe-core's serious and critical findings (contrast among them), one line per element."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"resultTypes": ["violations"]})
    return [
        f"{violation['id']} ({violation['impact']}): {', '.join(map(str, node['target']))} — "
        f"{node.get('failureSummary', '').splitlines()[-1].strip() if node.get('failureSummary') else ''}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
        for node in violation["nodes"]
    ]


def shoot(page: Any, directory: Path, name: str) -> Path:
    """A full-page screenshot ``directory/name.png`` for a person to look at."""
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def only_own_origin(page: Any, tracker: Tracker) -> list[str]:
    """The requests the page made anywhere but the tracker (no CDN, no web font): should be none."""
    return [url for url in page.requests if not url.startswith(tracker.url) and not url.startswith("data:")]


def next_step(page: Any) -> str:
    """The heading of the step the case page marks as the next one ("" when it marks none)."""
    label = page.locator(".step-label", has_text=re.compile(r"Langkah berikutnya|Next step"))
    if label.count() == 0:
        return ""
    return label.first.evaluate("label => label.nextElementSibling.textContent.trim()")


def visible_forms(page: Any) -> list[str]:
    """The ids of the forms a person sees on the page, top to bottom (folded ones left out)."""
    script = "() => [...document.querySelectorAll('main form[id]')].filter(f => f.checkVisibility())"
    return page.evaluate(script + ".map(f => f.id)")


def flash(page: Any) -> str:
    return " ".join(page.locator(".flash").all_inner_texts())


def fits_the_phone(page: Any) -> None:
    faults = layout_faults(page, "phone")
    assert not faults, "\n".join(faults)


def follow(page: Any, target: Any) -> None:
    """Click a link or a submit button (a selector or a locator) and wait for the page it leads to: a click
    does not wait for the navigation it starts, and the old page would still be read."""
    with page.expect_navigation():
        (page.locator(target) if isinstance(target, str) else target).click()
