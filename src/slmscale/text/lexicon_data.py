"""Raw lexicon data: child-level English words with the features the stories and benchmarks need.

Notation (parsed by `slmscale.text.lexicon`):
  nouns      `word` (regular plural), `word:plural` (irregular), `word:-` (mass noun, no plural)
  verbs      `base` (regular), `base:past` (irregular or spelling change), `base:past:participle`
  names      grouped by pronoun gender
Nouns are grouped by semantic class; verbs list the noun classes they accept as objects, which is
how the stories and the argument-structure pairs select plausible objects.
"""

from __future__ import annotations

GIRL_NAMES = """Lily Mia Emma Sara Anna Lucy Ella Zoe Ruby Rosa Amy Kate Nora Ivy Grace Maya Hannah Sophie
Chloe Julia Alice Daisy Molly Lena Nina Clara Eva Tina Jenny Sally Holly Penny Poppy Rita Wendy Fiona Olive
Bella Hazel Jane"""

BOY_NAMES = """Tom Ben Max Sam Jack Leo Tim Finn Noah Jake Luke Adam Oscar Henry Owen Eli Hugo Theo Liam Ethan
Dan Bob Joe Ryan Mark Paul Peter Billy Toby Timmy Danny Freddy Charlie Oliver Jasper Felix Harry Kevin Nick Ted"""

# Names given to animal characters ("a little dog named Spot"); pronoun follows the listed gender.
PET_NAMES_F = "Daisy Bella Coco Luna Rosie Pip Mimi Dot"
PET_NAMES_M = "Spot Buddy Rex Milo Rocky Biscuit Patch Bingo"

# Semantic classes of nouns.
NOUNS = {
    "animal": """cat dog bird fish:fish mouse:mice rabbit bunny duck frog horse cow pig sheep:sheep goat hen
        chicken owl fox wolf:wolves bear lion tiger monkey elephant giraffe zebra turtle snail bee butterfly ant
        spider squirrel deer:deer puppy kitten lamb pony goose:geese whale dolphin crab bug worm parrot
        penguin hamster camel snake hippo dragon""",
    "toy": """ball doll kite drum train truck robot puzzle balloon block whistle marble puppet rocket wagon
        sled bubble ribbon bell flute guitar trumpet toy yoyo teddy top""",
    "food": """apple banana cake cookie pie sandwich carrot candy egg orange pear peach plum cherry grape lemon
        berry muffin cupcake pancake pizza tomato:tomatoes potato:potatoes donut bun nut melon strawberry
        pumpkin bean cracker pretzel lollipop""",
    "drink": "milk:- juice:- water:- tea:- lemonade:- cocoa:-",
    "stuff": "sand:- snow:- mud:- grass:- bread:- soup:- cheese:- honey:- rice:- paint:- glue:- rain:- paper:-",
    "thing": """cup bowl plate spoon fork knife:knives chair table bed lamp clock book pencil crayon pen brush
        comb box basket bag key door window bucket shovel umbrella jar bottle rope stick stone shell leaf:leaves
        feather map letter picture card gift present candle rug mirror blanket pillow towel coin button
        flag net tent ladder prize""",
    "clothing": "hat coat shoe sock boot scarf:scarves glove mitten dress shirt jacket cap sweater",
    "nature": "tree flower rock cloud star moon rainbow puddle nest seed acorn bush pebble wave",
    "event": "race game party song story picnic show trip",
    # Nouns the story templates use around the plot (not drawn as objects of verbs).
    "misc": """day night morning house room hand eye nose ear leg foot:feet knee head heart throat tummy name idea
        hole path line sky sun wind noise sound shadow shape string side piece pile mistake plan secret surprise
        treasure monster snowman apron attic bow breath floor oven shelf:shelves slide snack lunch class crash end
        truth way step row half:halves animal birthday talent winner light time year person:people bottom front
        moment mess care:- comfort:- flour:- food:- breakfast:- curtain week shade bath ground roof dirt:- pajamas:- clothes:- face gate zookeeper tower tail""",
    "vehicle": "car bus plane ship bike tractor boat scooter",
    "person": """mom dad mother father grandma grandpa brother sister baby friend teacher farmer doctor king queen
        prince princess boy girl man:men woman:women child:children kid neighbor baker clown pirate fairy
        giant""",
}

# Places: noun and the preposition used for "being there".
PLACES = """park:at garden:in forest:in beach:at school:at farm:on lake:by river:by pond:by hill:on mountain:on
zoo:at shop:at store:at kitchen:in backyard:in playground:at library:at castle:in cave:in field:in
meadow:in village:in town:in sea:by island:on bakery:at market:at yard:in barn:in jungle:in bedroom:in
bridge:on street:on pool:at"""

# Which object classes each transitive verb takes (for plausible sentences and argument structure).
TRANSITIVE = {
    "eat:ate:eaten": "food",
    "drink:drank:drunk": "drink",
    "see:saw:seen": "animal toy food thing clothing nature vehicle person",
    "find:found:found": "animal toy food thing clothing",
    "lose:lost:lost": "toy thing clothing",
    "throw:threw:thrown": "toy",
    "catch:caught:caught": "toy animal",
    "kick": "toy",
    "hold:held:held": "toy thing food animal",
    "carry:carried": "toy thing food animal",
    "bring:brought:brought": "toy thing food clothing",
    "take:took:taken": "toy thing food clothing",
    "give:gave:given": "toy thing food",
    "buy:bought:bought": "toy food thing clothing",
    "make:made:made": "food toy",
    "build:built:built": "toy",
    "draw:drew:drawn": "animal thing nature vehicle person",
    "paint": "thing toy vehicle",
    "fix": "toy thing vehicle",
    "break:broke:broken": "toy thing",
    "read:read:read": "book",
    "write:wrote:written": "letter card",
    "hug:hugged": "animal person toy",
    "pet:petted": "animal",
    "feed:fed:fed": "animal",
    "wash": "thing clothing animal vehicle",
    "clean": "thing clothing vehicle",
    "open": "box door window gift present book jar bag",
    "close": "box door window book jar bag",
    "push": "toy vehicle thing",
    "pull": "toy rope wagon sled",
    "like": "animal toy food thing clothing nature person",
    "love": "animal toy food person",
    "want": "toy food thing clothing",
    "need": "thing clothing",
    "share": "toy food",
    "watch": "animal vehicle person nature",
    "chase:chased": "animal toy",
    "help": "animal person",
    "ride:rode:ridden": "bike horse pony scooter train bus boat",
    "plant": "seed flower tree",
    "pick:picked": "flower food",
    "drop:dropped": "toy thing food",
    "grab:grabbed": "toy thing food",
    "hide:hid:hidden": "toy thing food",
    "keep:kept:kept": "toy thing animal",
    "bake": "cake cookie pie muffin cupcake bread",
    "cut:cut:cut": "food paper",
    "touch": "animal toy thing nature",
    "count": "animal toy food thing nature",
    "call": "animal person",
    "meet:met:met": "animal person",
    "visit": "person",
    "wear:wore:worn": "clothing",
    "fill": "cup bowl bucket jar bottle basket bag box",
    "forget:forgot:forgotten": "toy thing clothing",
    "blow:blew:blown": "bubble balloon candle whistle",
    "fold": "thing clothing",
    "follow:followed": "animal person",
    "tickle": "animal person",
    "smell:smelled": "food nature",
    "taste": "food drink",
    "kiss": "animal person",
    "lift": "toy thing animal",
    "sell:sold:sold": "toy food thing",
    "win:won:won": "game prize race",
    "bite:bit:bitten": "food",
    "stop:stopped": "ball toy vehicle",
    "use": "thing toy",
    "tie:tied": "rope ribbon shoe",
    "save:saved": "animal person",
    "scare:scared": "animal person",
    "thank": "person animal",
    "miss:missed": "person animal",
}

# Intransitive verbs: take no object (used for the argument-structure minimal pairs).
INTRANSITIVE = """run:ran:run jump walk hop:hopped skip:skipped swim:swam:swum fly:flew:flown sleep:slept:slept
cry:cried laugh smile dance sing:sang:sung sit:sat:sat stand:stood:stood fall:fell:fallen wait rest shout
giggle nap:napped wake:woke:woken spin:spun:spun bark meow quack roar sneeze yawn nod:nodded cheer
shiver float arrive frown blink wiggle whisper cough snore sigh hurry:hurried crawl rush skate wander
tremble sparkle glow bounce splash fly shine:shone:shone"""

# Verbs the templates use with other complements ("decided to", "felt sad"); no argument-structure pairs.
OTHER_VERBS = """come:came:come go:went:gone get:got:got feel:felt:felt know:knew:known think:thought:thought
tell:told:told begin:began:begun grow:grew:grown hurt:hurt:hurt hear:heard:heard leave:left:left put:put:put
play look try:tried decide remember learn dream mix stir:stirred pack practice search wish reach roll move turn
stay listen cross wave start happen dig:dug:dug shake:shook:shaken hit:hit:hit let:let:let speak:spoke:spoken
become:became:become die hate water work clap:clapped snow rain climb say:said:said ask
have:had:had do:did:done show:showed:shown live finish talk lick wag:wagged knock spend:spent:spent"""

ADJECTIVES = {
    "size": "big small little tiny huge tall short long round",
    "colour": "red blue green yellow orange purple pink brown black white gray golden silver",
    "happy": "happy glad excited proud calm brave cheerful joyful thankful",
    "sad": "sad scared afraid angry upset lonely worried tired sleepy hungry grumpy nervous",
    "quality": """soft shiny old new pretty funny nice clean dirty wet dry warm fluffy fuzzy strong bright dark
        beautiful lovely special heavy magic noisy smooth sparkly""",
    "trait": """kind smart silly shy curious gentle friendly good bad busy yummy tasty best favorite messy sharp
        hot cold fast slow quiet loud sweet sticky light""",
    "weather": "sunny rainy windy snowy cloudy",
    "nice": "pretty lovely beautiful special shiny new nice",
}

ADVERBS = """against almost alone along anymore as asleep better careful early easy easier ever far first
forever free full fun hard high higher honest instead just last late longer low messier more much next off only
out past poor ready right safe scary sick single sorry steady steep still strange stuck than tidy tight until
well whole wise worst wrong young oh hi hello crash x deep patient burnt ago another bigger harder even flat most very really quickly slowly happily sadly quietly loudly carefully gently together soon then finally
suddenly later again always never today tomorrow yesterday outside inside home away back up down too also
once now there here all everywhere"""

QUANTIFIERS = """some many few several every each all both no one two three four five six seven eight nine
ten lots"""

FUNCTION_WORDS = """the a an this that these those and but so because when if or with without to in on at under
over near behind into onto from for of by about after before around through he she it they him her them his
its their himself herself itself themselves i you we me us my your our was were is are be been did does do not
had has have there what who where why how can could will would should said asked yes no please thank upon
time named little am any anyone anything everyone everything nobody nothing something other mind
being having going coming getting saying lying mine yours"""
