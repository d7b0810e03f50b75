// agent-otel report: the little the page does beyond showing itself. The report reads fine
// without it; this adds sortable tables, expand / collapse all sessions, and opens the
// collapsed sections a link points into.
"use strict";

// -- sortable tables: click a header to sort by that column, again to reverse ------------

function sortKey(cell, numeric) {
  if (!numeric) return cell.textContent.trim().toLowerCase();
  const value = cell.dataset.value;
  return value === undefined || value === "" ? -Infinity : Number(value);
}

function sortTable(table, header, column) {
  const numeric = header.classList.contains("num");
  const ascending = header.getAttribute("aria-sort") !== "ascending";
  for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
  header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows, (row) => [sortKey(row.cells[column], numeric), row]);
  rows.sort(([a], [b]) => {
    const order = numeric ? a - b : a.localeCompare(b);
    return ascending ? order : -order;
  });
  body.append(...rows.map(([, row]) => row));
}

for (const table of document.querySelectorAll("table.sortable")) {
  Array.from(table.tHead.rows[0].cells).forEach((header, column) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = header.textContent;
    button.title = "Sort by " + header.textContent;
    button.addEventListener("click", () => sortTable(table, header, column));
    header.replaceChildren(button);
  });
}

// -- expand / collapse every session -----------------------------------------------------

const sessions = document.querySelectorAll("details.session");
const actions = document.getElementById("actions");
if (sessions.length && actions) {
  for (const [label, open] of [["Expand all", true], ["Collapse all", false]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.dataset.action = open ? "expand" : "collapse";
    button.addEventListener("click", () => {
      for (const session of sessions) session.open = open;
    });
    actions.append(button);
  }
}

// -- a link to an operation or change inside a collapsed session opens it ----------------

function reveal() {
  const id = decodeURIComponent(location.hash.slice(1));
  let element = id ? document.getElementById(id) : null;
  if (!element) return;
  const target = element;
  for (; element; element = element.parentElement) {
    if (element.tagName === "DETAILS") element.open = true;
  }
  target.scrollIntoView();
}

window.addEventListener("hashchange", reveal);
reveal();
