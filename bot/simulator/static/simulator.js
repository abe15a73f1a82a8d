// 政企直通车 simulator: send the page's forms in the background and refresh the panes every second.
// Without this script the forms still work (they post and the page comes back); nothing is loaded
// from elsewhere.
"use strict";
(function () {
  const page = document.body.dataset;
  const panes = ["chat", "group", "log"];
  const status = document.getElementById("status");
  let since = Number(page.rev);
  let timer = null;
  let feedFailing = false; // the status line tells of a failed poll until one succeeds

  function tell(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function feedUrl() {
    const query = new URLSearchParams({ as: page.as, group: page.group, log: page.log, since: String(since) });
    return page.feed + "?" + query.toString();
  }

  function nearBottom(list) {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  // Entries are kept in time order: a late arrival goes before the first entry newer than it.
  function insertInOrder(list, node) {
    const at = Number(node.dataset.at);
    for (const other of list.children) {
      if (Number(other.dataset.at) > at) {
        list.insertBefore(node, other);
        return;
      }
    }
    list.appendChild(node);
  }

  function apply(pane, entries) {
    const list = document.getElementById(pane + "-entries");
    if (!list || !entries || !entries.length) return;
    const stick = nearBottom(list);
    for (const item of entries) {
      const holder = document.createElement("template");
      holder.innerHTML = item.html.trim();
      const node = holder.content.firstElementChild;
      const old = document.getElementById(node.id);
      if (old) {
        // A card changed (after a click): keep the keyboard user where he was, on that card.
        const hadFocus = old.contains(document.activeElement);
        old.replaceWith(node);
        if (hadFocus) (node.querySelector(".card-title") || node).focus();
      } else {
        insertInOrder(list, node);
      }
    }
    if (stick) list.scrollTop = list.scrollHeight;
  }

  async function poll() {
    try {
      const response = await fetch(feedUrl(), { headers: { Accept: "application/json" } });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
      if (feedFailing) tell("");
      feedFailing = false;
      panes.forEach((pane) => apply(pane, data[pane]));
      since = Math.max(since, data.rev);
    } catch (error) {
      feedFailing = true;
      tell("读取新消息失败：" + error.message, true);
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      await poll();
      schedule();
    }, 1000);
  }

  async function send(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-ajax")) return;
    event.preventDefault();
    const data = new FormData(form, event.submitter);
    const buttons = Array.from(form.querySelectorAll("button"));
    buttons.forEach((button) => (button.disabled = true));
    tell("发送中…");
    try {
      const response = await fetch(form.action, { method: "POST", body: data, headers: { Accept: "application/json" } });
      const result = await response.json().catch(() => ({ ok: false, error: "HTTP " + response.status }));
      if (result.ok) {
        const input = form.querySelector("input[name=text]");
        if (input) {
          input.value = "";
          input.focus();
        }
        tell("已发送");
      } else {
        tell(result.error || "发送失败", true);
      }
    } catch (error) {
      tell("连接模拟器失败：" + error, true);
    } finally {
      buttons.forEach((button) => (button.disabled = false));
    }
    await poll();
  }

  document.addEventListener("submit", send);
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.requestSubmit());
  });
  panes.forEach((pane) => {
    const list = document.getElementById(pane + "-entries");
    if (list) list.scrollTop = list.scrollHeight;
  });
  // On a phone the list of people folds away once someone is chosen.
  const people = document.getElementById("people-details");
  if (people && window.matchMedia("(max-width: 760px)").matches && new URLSearchParams(location.search).has("as")) {
    people.removeAttribute("open");
  }
  document.documentElement.classList.add("js");
  schedule();
})();
