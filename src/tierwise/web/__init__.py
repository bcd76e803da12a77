"""The web dashboard (server-rendered pages over the scored accounts) and the static HTML report."""
