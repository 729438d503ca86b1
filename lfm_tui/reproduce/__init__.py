"""`lfm reproduce`: the paper's tables and figures as sweeps, with the paper's numbers beside."""
