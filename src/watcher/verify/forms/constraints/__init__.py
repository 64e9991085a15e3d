"""Composable form constraints, grouped by what they check: base, lines, rhyme, refrains, meter."""
