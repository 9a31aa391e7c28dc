"""Working a job: recipes, the run loop and its workers, the runs it records."""
