"""The rules segmentation decides by: ``SegmentRules`` (every number the segmenters use) and
the default ``RULES`` (overrides read from JSON: ``rulesfile``).

Decision rules, that is; the printed rule lines on a page are ``lines.Rules``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentRules:
    """Every decision the segmenters make, as data: ``replace(RULES, wide=1.2)`` tunes one.

    Sizes are in units of the estimated digit height ``dh`` of the string where they say so
    (``wh``: the writing height of a cut cell), so they hold at any resolution; ``px`` are
    pixels of the analysis image; priors are added to a reading's score penalty. A layout may
    be given overrides as a JSON object (``digitocr read --rules FILE``, ``rules_from_json``).
    """

    # -- ink map and binarisation
    #: the background is estimated on the image shrunk to this many px on its long side
    bg_side: float = 400.0
    #: background closing kernel of an image not shrunk, as a fraction of its short side
    bg_kernel: float = 0.12
    #: ... and at least this many px
    bg_kernel_min: int = 7
    #: background closing kernel (px of the shrunk image) of an image that was shrunk
    bg_kernel_shrunk: int = 9
    #: gray level: paper darker than this counts as this when ink is made relative to paper
    bg_floor: float = 32.0
    #: ink darkness: the binarisation threshold (Otsu on the ink map) is never below this
    ink_floor: float = 0.18
    #: fraction of the threshold: weak ink above it is kept where it touches strong ink
    hysteresis: float = 0.6
    # -- page preparation
    #: px: pages are analysed at about this many pixels on their short side (an A4 page at
    #: 150 dpi): digits stay 30+ px tall, more than the 20 px the classifier sees
    analysis_side: int = 1240
    #: a page is shrunk only when its short side is over this many times ``analysis_side``
    shrink_over: float = 1.4
    #: degrees: a skew smaller than this is left alone
    min_skew: float = 0.15
    #: px: smallest component kept on a page, or (short side / ``area_divisor``) squared
    min_area: int = 3
    #: see ``min_area``
    area_divisor: int = 400
    # -- printed rule lines, boxes and combs
    #: px: shortest run of ink taken for a printed rule (longer than a handwritten bar) ...
    rule_min: int = 60
    #: ... or the page's short side over this, if longer
    rule_divisor: int = 25
    #: px: shortest vertical rule, or the rule length over ``vrule_divisor`` if longer
    vrule_min: int = 12
    #: see ``vrule_min``
    vrule_divisor: int = 2
    #: px: a vertical rule's ends must lie within this square kernel of a horizontal rule
    rule_touch: int = 7
    #: px: rows at each end of a vertical rule looked at for that touch
    rule_end: int = 3
    #: px: rule thickness assumed where there are no rules
    rule_thickness: int = 3
    #: rule lengths: a rule that sets the skew is at least this many long ...
    skew_rules: int = 4
    #: ... and at least the page width over this
    skew_width: int = 8
    #: px: fewest ink pixels on a rule to fit its slope
    skew_points: int = 10
    #: px: a box's shortest side, or half the shortest vertical rule if longer
    box_side_min: int = 8
    #: fraction of its bounding box a closed region fills to be a box (not a gap between rules)
    box_fill: float = 0.85
    #: fraction of the page's width and height: a region as large is the page, not a box
    box_page: float = 0.9
    #: px beyond the rule's thickness: strokes either side of a rule are joined across it
    cross_reach: int = 4
    #: rules are grown by their thickness over this on each side before they are removed (a
    #: blurred or JPEG-ragged rule leaves slivers that read as a "1")
    rule_grow: int = 3
    #: rule thicknesses (plus ``comb_gap`` px): cells this close in a row form one comb
    comb_gap_thick: int = 2
    #: px: see ``comb_gap_thick``
    comb_gap: int = 6
    #: width over height: a comb's cell (one digit) is at most this wide; a wider cell in a
    #: row of cells (a table's) is a box of its own
    comb_cell_aspect: float = 1.6
    #: fraction of a box's height: gaps this long in a faint divider inside it are bridged
    divider_gap: float = 0.15
    #: fraction of a box's height: a divider runs at least this far, wall to wall (a
    #: handwritten 1 rarely reaches both walls)
    divider_span: float = 0.85
    #: fraction of a box's height: a divider is at most this thick (a printed line)
    divider_thick: float = 0.08
    #: fraction of a box's width: lines this close to its sides are its walls
    divider_margin: float = 0.04
    #: the cells between a box's dividers are a comb when each is within this factor of a
    #: whole number of the narrowest's width (1.3: 30 % off at most)
    divider_even: float = 1.3
    #: cells: a cell between dividers this many pitches wide at most is cut into that many
    #: (dividers the scan lost); wider, the box is no comb
    divider_missing: int = 3
    #: a wall between two cells of a row printed this much fainter than the fainter of the
    #: walls on either side of the pair is a comb's divider, not a wall: the two are one box
    #: (a table whose rules are dark and whose combs are printed light)
    wall_faint: float = 0.7
    #: a table column is printed when its writing's heights and bottoms spread (standard
    #: deviation) at most this share of its height, or ``printed_px`` where that is more
    printed_spread: float = 0.04
    #: px: see ``printed_spread`` (a px of quantisation at 75-100 dpi)
    printed_px: float = 1.0
    #: boxes of one table column (same left and right walls, within the ``comb_gap`` rule) at
    #: least this many share their dividers: a comb is printed alike in every row, so a
    #: divider broken or hidden by a digit in one row is found from the others
    column_rows: int = 3
    #: a column's divider is at least this dark (its median down the boxes, over the rows)
    #: as a share of the column's walls: a printed comb's light line, not a few digits' strokes
    column_line: float = 0.25
    #: ... in a narrow ridge: the column a rule's thickness + 2 px off it, on either side, at
    #: most this share as dark
    column_ridge: float = 0.25
    #: fraction of a component's width: a component that reaches this far past a cut
    #: between a light comb's cells on both sides ignores the comb (a number written small
    #: across it), and the box is read as one string
    straddle: float = 0.3
    #: fraction of a comb cell's width and height: ink smaller in both is a speck, not a digit
    comb_speck: float = 0.35
    # -- glyph crops
    #: px: a glyph's crop keeps the ink map this far (a square kernel) around its mask
    crop_rim: int = 3
    #: px of paper round a glyph's crop
    crop_pad: int = 2
    # -- strings: specks, joins, separators
    #: fraction of the tallest piece: pieces at least this tall set the digit height
    tall_share: float = 0.45
    #: px: a piece with less ink than this is a speck ...
    speck_area: float = 4.0
    #: ... or less than this many stroke widths squared
    speck_stroke: float = 0.25
    #: dh: a piece shorter than this both ways is a speck
    speck_size: float = 0.12
    #: dh: a piece lower than this is part of a digit (a bar, a broken stroke, one stroke of
    #: two), not a digit's whole body
    low: float = 0.6
    #: dh: a bar at most this far from a digit's body may be its bar (a 5's or a 7's) ...
    bar_gap: float = 0.1
    #: dh: ... when its middle is no lower than this below the digits' top (a dash sits at
    #: mid-height)
    bar_top: float = 0.3
    #: fraction of the narrower piece: pieces overlapping this much in x are joined when one
    #: is low ...
    join_overlap: float = 0.55
    #: ... and two tall ones when they overlap this much
    join_overlap_tall: float = 0.8
    #: dh: flat (a dash, a bar) is lower than this ...
    flat_height: float = 0.5
    #: ... and wider than this many times its height
    flat_aspect: float = 1.3
    #: dh: a flat single stroke narrower than this is a dash (``-`` after an amount)
    dash_width: float = 1.5
    #: dh: a piece lower than this and narrower than ``sep_width`` is a separator; under it
    #: both ways it is a dot (two dots one above the other stay dots: a colon)
    dot: float = 0.42
    #: dh: see ``dot``
    sep_width: float = 0.8
    #: a separator wider than this many times its height (and ``dash_min`` dh) is a ``-`` ...
    dash_aspect: float = 1.8
    #: dh: see ``dash_aspect``
    dash_min: float = 0.2
    #: ... else one taller than this many times its width a ``,``, else a ``.``
    comma_aspect: float = 1.4
    #: a flat piece is one stroke when its inkiest column holds at most this many times the
    #: median column's ink (a small flat 5 has a column as thick as its height) ...
    stroke_even: float = 2.5
    #: ... and fewer than this share of its columns cross ink more than once
    stroke_runs: float = 0.25
    # -- strings: merges of pieces that nearly touch
    #: dh: pieces at most this far apart may be one broken digit (or two narrow ones)
    merge_gap: float = 0.05
    #: dh: two tall pieces merged are at most this wide (a low piece and a tall one: ``wide``)
    merge_width: float = 0.85
    #: dh: merged pieces this wide are as likely one digit as two ...
    merge_even: float = 0.7
    #: ... and each dh wider (narrower) costs one digit (two) this prior
    merge_prior: float = 4.0
    #: prior against reading two x-overlapping tall pieces as two digits rather than one
    apart_prior: float = 0.5
    # -- strings: cuts of wide glyphs
    #: dh: a glyph wider than this is more likely two digits than one
    wide: float = 1.1
    #: dh per piece: narrowest glyph offered an even cut into pieces
    even_cut: float = 0.45
    #: dh per piece: widest glyph offered an even cut into pieces
    piece_width: float = 1.3
    #: prior, per dh short of ``wide``, against cutting a glyph of a single digit's width
    narrow_cut: float = 2.0
    #: most pieces one glyph is cut into
    max_split: int = 3
    #: prior per unit of ink a cut crosses (the cut column's over the inkiest column's)
    cut_ink: float = 0.3
    #: px: narrowest piece a cut may leave
    cut_min_width: int = 2
    #: fraction of the glyph's width: a cut in two lies between this ...
    cut_from: float = 0.25
    #: ... and this
    cut_to: float = 0.75
    #: candidate cuts in two are this many (at the lowest ink) ...
    cut_alternatives: int = 3
    #: ... at least the glyph's width over this (and 2 px) apart
    cut_spacing: int = 12
    #: a cut into k > 2 pieces lies within the width over (this times k) of the even cut
    cut_window: int = 3
    #: dh: glyphs from this wide may be cut at a thin neck
    neck_ratio: float = 0.45
    #: fraction of the glyph's width: a neck lies between this ...
    neck_from: float = 0.15
    #: ... and this
    neck_to: float = 0.85
    #: a neck's column holds at most this fraction of the inkiest column (two 1s leaning
    #: together touch along a stretch of their strokes, not at one point)
    neck_ink: float = 0.5
    #: dh: both parts either side of a neck are at least this tall
    neck_height: float = 0.7
    #: prior against cutting at a neck (a broken 6 has one too)
    neck_prior: float = 0.15
    #: dh: a piece lower than this is a broken stroke or a speck, not a digit ...
    stub_height: float = 0.5
    #: ... and reading one as a digit costs this prior
    stub_prior: float = 3.0
    #: dh: cutting a glyph of one digit's width into pieces lower than this pays
    #: ``short_prior`` per dh short (two touching digits each stand the line's height; a digit
    #: lying on its side, a flat 0 or 6, is low as well as narrow)
    short_height: float = 0.9
    #: see ``short_height``
    short_prior: float = 10.0
    # -- strings: signs (``/`` and ``$``)
    #: px: fewest ink pixels of a sign
    sign_min_ink: int = 8
    #: a ``/`` is thinner than this (minor over major axis of its ink)
    slash_thin: float = 0.22
    #: degrees: a stroke leaning right this far is a ``/`` outright (a tenth of MNIST's 1s
    #: lean over 31 degrees, 1 % over 40) ...
    slash_lean: float = 45.0
    #: degrees: ... and from this far an alternative reading (it wins only when the
    #: classifier is unsure of a digit)
    slash_maybe: float = 33.0
    #: prior of that alternative
    slash_prior: float = 0.7
    #: dh: a ``$`` is at least this tall (its bar's tips stick out) ...
    dollar_height: float = 1.1
    #: ... and at least this many times its height wide
    dollar_width: float = 0.4
    #: fraction of its height: the rows at each end looked at for the bar's tips
    dollar_tip: float = 0.08
    #: fraction of its width: a tip's ink starts right of this ...
    tip_from: float = 0.2
    #: ... ends left of this ...
    tip_to: float = 0.8
    #: ... and is at most this wide
    tip_width: float = 0.4
    #: prior of reading a ``$`` at the start of a string ...
    dollar_prior_leading: float = 0.5
    #: ... and elsewhere
    dollar_prior: float = 1.0
    # -- lines and fields
    #: fraction of the lower box: fields overlapping this much in height are one line
    line_overlap: float = 0.5
    #: fraction of the tallest piece: pieces at least this tall set a free page's digit height
    free_tall: float = 0.4
    #: dh: a piece joins a string when its middle is this close to the string's rows ...
    line_reach: float = 0.3
    #: dh: ... and it is this close to the string's right end
    word_gap: float = 1.2
    #: dh: a string whose tallest piece is lower than this is no field
    free_min_height: float = 0.4
    #: fraction of the image's width (and ``underline_min`` px): a rule this long is removed
    #: from a string (an underline, a box edge)
    underline: float = 0.5
    #: px: see ``underline``
    underline_min: int = 25
    #: px: smallest component of a ``string`` image
    string_min_area: int = 3
    #: px: smallest component of a ``digit`` image ...
    digit_min_area: int = 2
    #: ... and the digit keeps pieces with at least this share of its largest's ink
    digit_keep: float = 0.05
    # -- cheques
    #: width over height: the courtesy-amount box is at least this wide ...
    cheque_aspect_min: float = 1.8
    #: ... and at most this
    cheque_aspect_max: float = 9.0
    #: fraction of the page's width: the box's (or string's) centre is right of this
    cheque_right: float = 0.5
    #: fraction of the page's area: the box is larger than this
    cheque_area: float = 0.004
    #: cells: the date comb has at least this many (DDMMYY) ...
    cheque_date_cells_min: int = 6
    #: ... and at most this many (DD-MM-YYYY with separator cells)
    cheque_date_cells_max: int = 10
    #: fraction of the page's height: the date comb's centre is above this
    cheque_date_top: float = 0.45
    #: fraction of the page's width: gaps this long in printed lines are bridged before the
    #: amount box is looked for (thin lines come out of a scan dotted)
    cheque_bridge: float = 0.002
    #: fraction of the box's height: the amount box is read this far inside its walls
    cheque_inset: float = 0.04
    #: px: a whole cheque is analysed (rules, boxes, the date comb's digits) at about this
    #: many pixels on its short side (shrunk when it is over ``shrink_over`` times that): its
    #: rules and a date's digits stay 25+ px, and the amount box is cut from the page as given
    cheque_analysis_side: int = 780
    #: the order a cheque's date comb is written in (CTS-2010 and most of the world; a US
    #: cheque's is ``MMDDYYYY``): its reading must be a date in this order, given as ISO
    cheque_date_order: str = "DDMMYYYY"
    #: fraction of the page's width: with no date comb, a printed line at least this long ...
    cheque_line_min: float = 0.08
    #: ... and at most this (the payee's and the words' lines are longer) may carry the date
    cheque_line_max: float = 0.38
    #: fraction of the line's length: its writing is looked for up to this far above it ...
    cheque_line_above: float = 0.3
    #: ... and this far beyond its ends
    cheque_line_reach: float = 0.1
    # -- cut cells (a ledger cell, an amount crop): ``wh`` is the writing's height
    #: fraction of the crop's short side: a dark region this thick touching the crop's edge
    #: is scan border (far thicker than any pen stroke)
    cell_border: float = 0.08
    #: fraction of the paper's level: gray below it is "dark" for the border test
    cell_border_dark: float = 0.55
    #: percentile of the crop's gray taken as the paper's level
    cell_paper: float = 90.0
    #: percentile of the crop's gray painted over the border when the ink is bright
    cell_paper_bright: float = 10.0
    #: gray level: paper (outside the border) darker than this means bright ink on dark
    cell_dark_paper: float = 110.0
    #: wh: a straight run this long (and thin) is a printed rule
    cell_rule: float = 2.5
    #: px: ... and at least this long
    cell_rule_min: int = 8
    #: wh: gaps of a dashed or broken rule, bridged before runs are measured
    cell_dash_gap: float = 0.25
    #: wh: a rule is at most this thick ...
    cell_rule_thick: float = 0.25
    #: px: ... and this thickness at least is allowed
    cell_rule_thick_min: int = 2
    #: rule thicknesses: a piece no wider than this lying in a removed vertical rule's band
    #: is the rule's remains
    cell_remains: int = 2
    #: wh: components closer than this side by side (half that one above the other) belong
    #: to one group of writing
    cell_gap: float = 1.0
    #: wh: a piece cut by the crop's side edge joins the writing only this close to it
    cell_near: float = 0.6
    #: a group touching the crop's edge counts this much less (a neighbour cut by the crop)
    cell_edge_factor: float = 0.35
    #: fraction of the tallest group's height: a group lower than this is small print
    cell_small: float = 0.55
    #: other groups kept as a cut cell's alternatives, read in turn when the likeliest one
    #: yields no digit, or one that needs review (0: none)
    cell_alternatives: int = 2
    #: wh of paper round the writing's box when it is read
    cell_pad: float = 0.25
    #: px: ... and at least this
    cell_pad_min: int = 2
    #: px: ``auto`` reads an image whose long side is at most this, and that has no printed
    #: boxes, as one cell (a cut ledger cell or amount, not a page)
    cell_side: int = 700
    #: fraction of such an image: one printed box over this much of it is the cell's frame
    cell_own_frame: float = 0.4
    #: a piece more elongated than this is a line, not writing, when estimating ``wh``
    line_aspect: float = 12.0
    #: fraction of the crop's height or width: a piece spanning this much is "across" it
    cell_span: float = 0.8
    #: a rule broken into pieces: each piece this many times taller than wide ...
    cell_broken_aspect: float = 3.0
    #: ... and the pieces together covering this share of the crop's height
    cell_broken_cover: float = 0.4
    #: a piece across most of the crop that fills less than this share of its box is rules
    frame_fill: float = 0.08
    #: a piece across most of the crop, or touching its edge, whose length is this many times
    #: its mean thickness (length squared over area) is a rule, however slanted, bowed or bent
    #: into a corner: a 2 px pen stroke 80 px long scores 40, a column rule across a cell 80+
    line_elongation: float = 40.0
    #: px: pieces with less ink are not used to estimate ``wh`` ...
    cell_min_area: int = 6
    #: ... which is the height of the tallest of this many inkiest pieces
    cell_inkiest: int = 3
    #: ``--model auto`` checks a per-digit field's digits with the string reader, each given
    #: alone: this share of the glyph's height more of the page above and below it ...
    check_pad: float = 0.15
    #: ... and this many glyph heights of paper at each side
    check_margin: float = 0.33
    #: fraction of the crop's height: the writing height assumed to find the rules when every
    #: piece of ink is joined to one (digits written on an amount's base line)
    cell_guess: float = 0.5


#: the default rules (never mutated: ``dataclasses.replace`` makes a tuned copy)
RULES = SegmentRules()
