"""Everyday story schemas: losing and finding, sharing, birthdays, rainy days, baking, gardens, pets."""

from __future__ import annotations

from slmscale.text.schema_base import Ctx, emotion_pair, other_thing, schema


@schema("lost_and_found")
def lost_and_found(c: Ctx) -> None:
    a = c.child("A")
    c.thing("O", ("toy", "clothing"))
    c.place("P", ("park", "garden", "backyard", "playground", "beach", "yard", "field"))
    c.place("Q", ("bedroom", "kitchen", "barn", "garden", "backyard", "yard"))
    c.parent("M")
    other_thing(c, "X", c.vars["O"])  # type: ignore[arg-type]
    emotion_pair(c)
    c.opening(a)
    c.say("{A} had {O.a}.", "{A.he} loved {A.his} {O.full} very much.", "{A} had {O.a} that {A.he} took everywhere.")
    c.maybe(0.6, "Every day, {A} played with the {O} {P.at}.", "{A.he} liked to play with {A.his} {O} {P.at}.")
    c.say("One day, {A} could not find {A.his} {O.full}.", "One morning, the {O.full} was gone.",
          "One day, {A} lost {A.his} {O}.")
    c.maybe(0.7, "{A} was very {S}.", "{A} felt {S} and started to cry.", "{A.he} was {S} and did not know what to do.")
    c.say("{A.he} looked {P.at}, but the {O} was not there.", "{A.he} looked everywhere {P.at}.",
          "{A.he} searched under the bed and behind the door.")
    c.maybe(0.6, "{A} asked {M} for help.", "{M} came to help {A.him} look.")
    c.maybe(0.5, "They looked high and low.", "They looked for a long time.")
    c.say("At last, {A} found the {O} {Q.at}.", "Then {M} found the {O} {Q.at}.",
          "Finally, {A.he} saw the {O} {Q.at}.")
    c.end(("{A} was so {G} to have {A.his} {O} back.", "{A} was so {S} to have {A.his} {O} back.", "emotion"),
          ("{A} hugged the {O} and smiled.", "{A} hugged the {X} and smiled.", "object"),
          ("{A} held {A.his} {O} tight and never lost it again.", "{A} never found {A.his} {O} again.", "outcome"),
          ("{A} said thank you to {M} for finding the {O}.", "{A} said thank you to {M} for finding the {X}.",
           "object"))


@schema("sharing")
def sharing(c: Ctx) -> None:
    a, b = c.child("A"), c.child("B")
    f = c.thing("F", ("food",), adj_cls=None)
    c.place("P", ("park", "school", "playground", "garden", "beach", "library"))
    other_thing(c, "X", f)
    emotion_pair(c)
    c.opening(a)
    c.say("One day, {A} went {P.to} with {A.his} friend {B}.", "{A} and {B} were playing {P.at}.",
          "{A} met {A.his} friend {B} {P.at}.")
    c.say("{A} had {F.a} in {A.his} bag.", "{A}'s mom gave {A.him} {F.a} for lunch.", "{A} had a big {F}.")
    c.say("{B} did not have any food.", "{B} forgot {B.his} lunch at home.", "{B} looked at the {F} and felt hungry.")
    c.maybe(0.6, "{B} was very hungry.", "{B.his} tummy made a loud noise.")
    c.say("{A} wanted to eat the whole {F}.", "{A} thought about it for a moment.", "{A} looked at {B} and smiled.")
    c.maybe(0.6, "Then {A.he} broke the {F} in two pieces.", "{A} said, \"Let us share my {F}.\"")
    c.say("{A} gave half of the {F} to {B}.", "{A} shared the {F} with {B}.")
    c.end(("{B} said thank you, and they were both {G}.", "{B} said thank you, and they were both {S}.", "emotion"),
          ("{B} thanked {A} for sharing the {F}.", "{A} thanked {B} for sharing the {F}.", "character"),
          ("{B} thanked {A} for sharing the {F}.", "{B} thanked {A} for sharing the {X}.", "object"),
          ("Sharing made {A} and {B} best friends.", "Sharing made {A} and {B} stop being friends.", "outcome"))


@schema("birthday")
def birthday(c: Ctx) -> None:
    a = c.child("A")
    c.parent("M")
    g = c.thing("O", ("toy",))
    c.thing("K", ("cake", "cupcake", "pie", "cookie"), adj_cls=None)
    other_thing(c, "X", g)
    emotion_pair(c)
    c.word("N", ["five", "six", "seven", "four", "eight"])
    c.opening(a)
    c.say("Today was {A}'s birthday.", "It was {A}'s birthday, and {A.he} was {N} years old.",
          "{A} woke up and remembered that it was {A.his} birthday.")
    c.maybe(0.6, "{A} was very excited.", "{A.he} jumped out of bed with a big smile.")
    c.maybe(0.6, "{A} wanted {O.a} for {A.his} birthday.", "{A} wished for {O.a} more than anything.")
    c.say("{M} made a big {K} for the party.", "{M} baked {K.a} with {N} candles.",
          "There was a big {K} on the table.")
    c.maybe(0.6, "All of {A.his} friends came to the party.", "{A.his} friends sang a happy song.")
    c.say("{A} blew out the candles.", "{A} made a wish and blew out the candles.")
    c.say("Then {M} gave {A} a box with a bow.", "Then {M} gave {A.him} a present.")
    c.say("{A} opened the box and found {O.a} inside.", "Inside the box was {O.a}.")
    c.end(("{A} was very {G} with {A.his} new {O}.", "{A} was very {S} with {A.his} new {O}.", "emotion"),
          ("{A} played with the {O} all day.", "{A} played with the {X} all day.", "object"),
          ("It was the best birthday ever.", "It was the worst birthday ever.", "outcome"),
          ("{A} said, \"Thank you, {M}!\"", "{M} said, \"Thank you, {A}!\"", "character"))


@schema("rainy_day")
def rainy_day(c: Ctx) -> None:
    a = c.child("A")
    c.parent("M")
    c.place("P", ("park", "beach", "playground", "zoo", "lake", "farm"))
    c.thing("O", ("puzzle", "drum", "doll", "robot", "block", "puppet", "book", "crayon", "train"), adj_cls="size")
    emotion_pair(c)
    c.opening(a)
    c.say("{A} wanted to go {P.to} today.", "{A} had a plan to play {P.at}.", "{A} loved going {P.to}.")
    c.say("But it started to rain.", "But when {A.he} looked outside, it was raining.", "Then dark clouds came and it began to rain.",
          "But the sky was gray, and rain fell on the roof.", "Just then, big drops of rain began to fall.")
    c.say("{A} was {S} because {A.he} could not go out.", "{A} felt {S} and sat by the window.")
    c.maybe(0.6, "The rain did not stop.", "Big drops hit the window.", "The rain went on and on.")
    c.say("{M} had an idea.", "Then {M} smiled and had a good idea.")
    c.say("{M} brought out {O.a}.", "{M} said, \"Let us play with {O.a}.\"")
    c.maybe(0.6, "They played with the {O} inside the warm house.", "They had so much fun with the {O}.")
    c.maybe(0.4, "Soon, the rain stopped and the sun came out.", "Later, {A.he} saw a rainbow in the sky.")
    c.end(("{A} was {G}, and the rainy day was fun after all.", "{A} was {S}, and the rainy day was no fun at all.",
           "emotion"),
          ("{A} said a rainy day at home can be fun too.", "{A} said a rainy day {P.at} can be fun too.", "outcome"),
          ("{A} hugged {M} and said thank you.", "{M} hugged {A} and said thank you.", "character"))


@schema("baking")
def baking(c: Ctx) -> None:
    a = c.child("A")
    c.parent("M")
    k = c.thing("K", ("cake", "cookie", "pie", "muffin", "cupcake", "pancake"), adj_cls=None)
    c.thing("F", ("apple", "banana", "cherry", "berry", "lemon", "peach", "strawberry", "pumpkin", "plum"),
            adj_cls=None)
    other_thing(c, "X", k)
    emotion_pair(c)
    c.opening(a)
    c.say("{A} and {M} wanted to bake {K.a}.", "One day, {A} asked {M} to help {A.him} make {K.a}.",
          "{A} loved to bake with {M}.")
    c.say("They went to the kitchen.", "They put on their aprons and went to the kitchen.",
          "{M} got out a big bowl and a spoon.", "{A} washed {A.his} hands first.")
    c.say("{A} put some {F.pl} in a big bowl.", "{A} cut the {F.pl} into small pieces.",
          "{M} gave {A} some {F.pl} to mix.")
    c.maybe(0.6, "{A} mixed and mixed.", "{A} stirred it all with a big spoon.")
    c.maybe(0.5, "The kitchen was a big mess.", "There was flour on {A.his} nose.")
    c.say("Then they put the {K} in the oven.", "{M} put the {K} in the hot oven.")
    c.maybe(0.6, "Soon, the house smelled sweet.", "They waited and waited.")
    c.say("When the {K} was ready, it looked yummy.", "The {K} came out warm and golden.")
    c.end(("{A} took a bite of the {K} and was very {G}.", "{A} took a bite of the {K} and was very {S}.", "emotion"),
          ("{A} said it was the best {K} ever.", "{A} said it was the best {X} ever.", "object"),
          ("{A} and {M} ate the {K} together.", "{A} and {M} threw the {K} away because it was burnt.", "outcome"))


@schema("planting")
def planting(c: Ctx) -> None:
    a = c.child("A")
    c.place("P", ("garden", "backyard", "yard", "field"))
    c.parent("M")
    f = c.thing("F", ("flower", "tree", "pumpkin", "tomato", "bean", "carrot", "melon", "strawberry"), adj_cls=None)
    other_thing(c, "X", f)
    emotion_pair(c)
    c.opening(a)
    c.say("{A} found a little seed {P.at}.", "{M} gave {A} a small seed.", "{A} had a tiny seed in {A.his} hand.")
    c.say("{A} wanted to grow {F.a}.", "{A} dreamed of a big {F}.")
    c.say("{A.he} dug a hole and put the seed in it.", "{A.he} planted the seed {P.at}.")
    c.say("Every day, {A} gave the seed some water.", "{A} watered the seed every morning.")
    c.maybe(0.6, "For many days, nothing happened.", "At first, nothing grew.")
    c.maybe(0.5, "{A} was {S} and wanted to give up.", "{A} felt {S}, but {A.he} did not stop.")
    c.maybe(0.5, "{M} said, \"Be patient.\"", "{M} told {A.him} to wait a little longer.")
    c.say("One morning, {A} saw a little green plant.", "Then one day, a green plant came up.",
          "After many days, a tiny leaf came out of the ground.", "One day, {A} saw something green in the dirt.")
    c.say("The plant grew and grew.", "Soon the plant was very tall.", "Every week, the plant got bigger.",
          "The sun and the rain helped the plant grow.")
    c.end(("At last, there was a big {F}, and {A} was {G}.", "At last, there was a big {F}, and {A} was {S}.",
           "emotion"),
          ("{A} was proud of {A.his} big {F}.", "{A} was proud of {A.his} big {X}.", "object"),
          ("{A}'s {F} grew big and strong.", "{A}'s plant died, and no {F} ever grew.", "outcome"))


@schema("new_pet")
def new_pet(c: Ctx) -> None:
    a = c.child("A")
    p = c.pet("D", ("dog", "cat", "rabbit", "kitten", "puppy", "hamster", "bunny", "parrot", "turtle", "duck"))
    c.parent("M")
    c.thing("O", ("ball", "teddy", "ribbon", "bell", "blanket", "bowl", "pillow"))
    emotion_pair(c)
    c.opening(a)
    c.say("{A} wanted a pet more than anything.", "{A} always wished for a pet.")
    c.say(f"One day, {{M}} came home with {p.intro.replace(' named ' + p.name, '')}.",
          "One day, {M} brought home a surprise.")
    c.say("The pet was called {D}.", "{A} named the pet {D}.", "They called {D.him} {D}.")
    c.maybe(0.6, "{D} was shy at first.", "{D} hid under the bed.")
    c.say("{A} gave {D} {O.a}.", "{A} made a soft bed for {D} and gave {D.him} {O.a}.")
    c.maybe(0.6, "{D} liked the {O} very much.", "Soon {D} played with the {O} every day.")
    c.say("{A} and {D} played together all day.", "{A} fed {D} and took care of {D.him}.")
    c.end(("{A} was very {G} to have {D} as a friend.", "{A} was very {S} to have {D} as a friend.", "emotion"),
          ("{D} slept next to {A} every night.", "{D} ran away from {A} every night.", "outcome"),
          ("{A} loved {D}, and {D} loved {A}.", "{A} loved {D}, but {D} hated {A}.", "outcome"))


@schema("cleaning_up")
def cleaning_up(c: Ctx) -> None:
    a = c.child("A")
    c.parent("M")
    o = c.thing("O", ("toy",))
    c.place("P", ("bedroom",))
    other_thing(c, "X", o)
    emotion_pair(c)
    c.opening(a)
    c.say("{A}'s room was very messy.", "There were toys all over {A}'s room.")
    c.say("{M} asked {A} to clean up.", "{M} said, \"Please clean your room.\"")
    c.say("{A} did not want to clean.", "{A} wanted to play instead.")
    c.maybe(0.6, "{A.he} sat on the floor and frowned.", "{A.he} felt {S}.")
    c.say("Then {A} saw that {A.his} {O.full} was missing.", "{A} could not find {A.his} {O.full} in the mess.")
    c.say("{A.he} started to pick up the toys.", "So {A} began to put {A.his} toys away.")
    c.maybe(0.6, "{A.he} put the books on the shelf.", "{A.he} put the blocks in a box.")
    c.say("Under the last pile, {A.he} found the {O}.", "At the bottom of the box was {A.his} {O}.")
    c.end(("{A} was {G} that {A.he} cleaned {A.his} room.", "{A} was {S} that {A.he} cleaned {A.his} room.",
           "emotion"),
          ("{A} played with the {O} in {A.his} clean room.", "{A} played with the {X} in {A.his} clean room.",
           "object"),
          ("Now {A}'s room was clean and tidy.", "Now {A}'s room was messier than ever.", "outcome"))
