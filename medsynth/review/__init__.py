"""Sample quality beyond the automatic checks: a rubric judge model (:mod:`.judge`), reviews by
people (:mod:`.data`: storage and the review queue; :mod:`.csvio`: review sheets for another
machine) and how far the two agree (:mod:`.agreement`)."""
