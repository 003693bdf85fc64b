"""The hand-written word lists behind gadlib's label names, and the tokenizer's domain text.

Explained in notebooks/01_generative_vs_discriminative.ipynb (how class names are built) and
notebooks/02_tokenization_ablations.ipynb (the embedded tokenizer). Used by the synthetic
benchmark (`gadlib.data.benchmark`) and by the embedded tokenizer/LM (`gadlib.core.backbone`), which need
the words but not the generator. Verbs are single words, so "first word" = verb.
"""

from __future__ import annotations

import re

import numpy as np

from gadlib.core.label_spaces import camel_parts


VERBS: list[str] = """
add pour cut chop slice peel wash rinse dry stir mix whisk boil fry bake grill season spread
fold roll knead measure weigh open close remove insert attach detach tighten loosen screw drill
sand paint glue clamp hammer mark wipe scrub sweep fill empty drain plug cover wrap unwrap place
lift hang check heat cool squeeze grate crack sprinkle serve
""".split()

# Objects, separated by "|"; compound and multi-word objects on purpose, so that labels
# split into several sub-words ("wrap:plastic" is EPIC-Kitchens' noun notation).
OBJECTS: list[str] = """
sugar|brown sugar|salt|sea salt|pepper|black pepper|bell pepper|flour|butter|milk|cream
sour cream|egg|onion|spring onion|garlic|ginger|tomato|potato|sweet potato|carrot|celery
lettuce|cucumber|mushroom|rice|pasta|noodles|bread|dough|batter|cheese|ham|bacon|chicken|beef
fish|shrimp|tofu|lemon|lime|orange|apple|banana|strawberry|honey|jam|yogurt|oats|tea|tea bag
coffee|ground coffee|water|ice|sauce|soy sauce|tomato sauce|olive oil|vegetable oil|vinegar
baking soda|baking powder|vanilla extract|chili flakes|basil|parsley|cinnamon|nutmeg
cocoa powder|chocolate|nuts|raisins|broth|stock cube|tortilla|avocado|beans|corn|peas|spinach
cabbage|eggplant|zucchini|pumpkin|syrup|maple syrup|mayonnaise|mustard|ketchup|pickles|sausage
knife|bread knife|pan|frying pan|pot|kettle|bowl|mixing bowl|plate|cup|mug|spoon|wooden spoon
fork|lid|oven|stove|blender|toaster|microwave|fridge|freezer|cutting board|baking tray
measuring cup|teapot|filter paper|sponge|towel|paper towel|tap|sink|dishwasher|bin|bag:paper
bag:plastic|wrap:plastic|foil:aluminium|container:lid|jar|bottle|can|screw|nail|bolt|washer
drill bit|screwdriver|hammer|wrench|tyre|spare tyre|wheel|jack|hubcap|lug nut|brake pad
bike chain|pedal|saddle|inner tube|valve|pump|hose|air filter|oil filter|cartridge|battery
car battery|light bulb|lamp shade|socket|switch|cable|extension cord|shelf|bracket|wall anchor
drywall|tile|grout|sealant|paint roller|paintbrush|masking tape|sandpaper|wood glue|plank
door hinge|door handle|lock|curtain rod|blind|window|mirror|picture frame|picture hook|carpet
floor|mop|bucket|vacuum bag|duvet cover|pillow case|bed sheet|shirt|button|needle|thread|zip
sock|shoe|shoelace|shoe polish|plant|potting soil|seed|fertiliser|cistern|shower head
drain cover|wiper blade|engine oil|dipstick|gift box|ribbon|table cloth|napkin
""".replace("\n", "|").strip("|").split("|")

TASKS: list[str] = """
make tea|make coffee|make pancakes|bake bread|make pizza|make salad|make omelette|make smoothie
cook pasta|cook rice|make sandwich|make soup|bake cookies|make lemonade|make sushi|make curry
grill steak|make guacamole|make french toast|boil eggs|change tyre|replace bike chain
fix bike puncture|assemble shelf|hang picture|paint wall|replace light bulb|install ceiling fan
replace door handle|fix leaking tap|unclog sink|tile backsplash|build birdhouse|sharpen knife
replace car battery|change engine oil|replace wiper blades|install curtain rod|assemble chair
patch drywall|clean oven|descale kettle|wash dishes|do laundry|iron shirt|make bed|clean windows
vacuum carpet|mop floor|repot plant|sew button|polish shoes|clean fridge|wrap gift
clean bathroom|change duvet cover|defrost freezer|clean gutter|wash car|set table
""".replace("\n", "|").strip("|").split("|")

# Qualifiers that make Ego4D-GoalStep-like descriptive labels of 5-8 words. They add words,
# shared across many classes, that carry no visual information at all.
PHRASES: list[str] = """
with a sharp knife|on the cutting board|into the large bowl|until it is soft|for a few minutes
over medium heat|in the kitchen sink|along the top edge|using both hands|on the work bench
with a clean cloth|into small even pieces|next to the stove|from the top shelf
back into the box|under running water|with the power drill|around the outer rim
""".replace("\n", "|").strip("|").split("|")


def tokenizer_corpus(repeats: int = 12, seed: int = 0) -> list[str]:
    """Domain text for the embedded tokenizer: random verb-object phrases, tasks and phrases.

    Each word is seen in label-like context (after a verb, with its leading space) a few times:
    enough that frequent pieces merge, too few for every word to become one token, so labels
    average about 3 sub-words, like a real LM's tokenizer on unusual words.
    """
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(repeats):
        lines += [f"{rng.choice(VERBS)} {o}" for o in OBJECTS]
        lines += [f"{v} {rng.choice(OBJECTS)} {rng.choice(PHRASES)}" for v in VERBS]
    return lines + TASKS * repeats


# Words of a class name, and how much class names share them (notebooks 01 and 02).

def label_words(name: str) -> list[str]:
    """The lower-cased words of a class name as data sets write them: split on spaces, `_ : - /`
    (any character that is not a letter or digit) and CamelCase, so "CliffDiving" -> [cliff,
    diving], "take_pan" -> [take, pan], "wrap:plastic" -> [wrap, plastic], "pick-up" -> [pick, up]."""
    return [part.lower() for token in re.split(r"[\W_]+", name) if token for part in camel_parts(token)]


def label_overlap_stats(names: list[str]) -> dict:
    """Word-level overlap of class names (words = `label_words`: lower-cased, split on spaces,
    separators and CamelCase).

    num_verbs: distinct first words; num_objects: distinct remainders after the first word
    (the object, for verb-object labels); share_first_word_shared: share of classes whose first
    word is the first word of another class; share_any_word_shared: share of classes with at
    least one word that also occurs in another class; classes_per_first_word: how many classes
    (itself included) start with a class's first word, averaged over classes - unlike the
    shares, it keeps growing as classes crowd onto fewer verbs.
    """
    if not names:
        raise ValueError("label_overlap_stats: names is empty")
    words = [label_words(n) for n in names]
    empty = [n for n, w in zip(names, words) if not w]
    if empty:
        raise ValueError(f"label_overlap_stats: class names without a letter or digit: {empty[:5]}")
    first_count: dict[str, int] = {}
    word_classes: dict[str, int] = {}
    for w in words:
        first_count[w[0]] = first_count.get(w[0], 0) + 1
        for word in set(w):
            word_classes[word] = word_classes.get(word, 0) + 1
    return {
        "num_classes": len(names),
        "mean_words": float(np.mean([len(w) for w in words])),
        "share_first_word_shared": float(np.mean([first_count[w[0]] > 1 for w in words])),
        "share_any_word_shared": float(np.mean([any(word_classes[x] > 1 for x in set(w)) for w in words])),
        "classes_per_first_word": float(np.mean([first_count[w[0]] for w in words])),
        "num_verbs": len(first_count),
        "num_objects": len({" ".join(w[1:]) for w in words}),
    }
