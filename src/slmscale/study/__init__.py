"""Studies: compose the stages into planned runs, execute them, collect results and report."""
