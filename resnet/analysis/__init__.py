"""Everything that reads results and draws them: tables, plots, reports, comparisons and
the gate's rules, procurement, history (change points), dashboards, exports and the
results index. It takes runs as frames (:mod:`resnet.runs`) and never opens a store or
measures anything; the engine and the store never import it."""
