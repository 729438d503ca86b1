"""The contract between the engine and its clients, standard library only: recipes and their
schema, the event protocol, a run folder's layout and outcome, the method catalog and registry,
and the bounded readers and guarded writers both halves use. The dashboard, `lfm` and `lfm plot`
import nothing of the engine but this package, so they start fast and run where torch is absent."""
