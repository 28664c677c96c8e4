/* Row filters: outcome, level, free text and "disagreements only". Rows that can be
   filtered carry class "filterable" and data-outcome / data-level / data-disagree. */
(function () {
  "use strict";
  function value(id) {
    var el = document.getElementById(id);
    return el ? el.value : "";
  }
  function apply() {
    var outcome = value("filter-outcome");
    var level = value("filter-level");
    var text = value("filter-text").toLowerCase();
    var onlyBox = document.getElementById("filter-disagree");
    var only = onlyBox ? onlyBox.checked : false;
    var rows = document.querySelectorAll(".filterable");
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var outcomes = (row.getAttribute("data-outcome") || "").split(" ");
      var show = (!outcome || outcomes.indexOf(outcome) >= 0) &&
        (!level || row.getAttribute("data-level") === level) &&
        (!text || row.textContent.toLowerCase().indexOf(text) >= 0) &&
        (!only || row.getAttribute("data-disagree") === "yes");
      row.classList.toggle("hidden", !show);
    }
    var counter = document.getElementById("filter-count");
    if (counter) {
      counter.textContent = document.querySelectorAll(".filterable:not(.hidden)").length +
        " rows shown";
    }
  }
  function openTarget() {
    /* A link to a test opens its collapsed details block. */
    var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    if (target && target.tagName === "DETAILS") {
      target.open = true;
    }
  }
  window.addEventListener("hashchange", openTarget);
  document.addEventListener("DOMContentLoaded", function () {
    openTarget();
    ["filter-outcome", "filter-level", "filter-text", "filter-disagree"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el) {
        el.addEventListener("input", apply);
        el.addEventListener("change", apply);
      }
    });
    apply();
  });
})();
