"""Adventure story schemas: races, fears, goals, rescues, treasure, kites, snow, getting lost."""

from __future__ import annotations

from slmscale.text.schema_base import Ctx, emotion_pair, other_thing, schema


@schema("race")
def race(c: Ctx) -> None:
    a = c.pet("A", ("rabbit", "turtle", "dog", "horse", "fox", "mouse", "squirrel", "duck", "frog", "pony"))
    b = c.pet("B", ("rabbit", "turtle", "dog", "horse", "fox", "mouse", "squirrel", "duck", "frog", "pony"))
    c.place("P", ("park", "field", "meadow", "forest", "hill", "farm"))
    c.thing("O", ("prize", "flag", "ribbon", "coin", "cookie", "apple", "cupcake"), adj_cls="colour")
    emotion_pair(c)
    c.opening(a, (f"{a.intro} and {b.intro} lived {{P.at}}.",))
    c.say("{A} and {B} wanted to have a race.", "One day, {B} said to {A}, \"Let us have a race!\"")
    c.say("The winner would get {O.a}.", "There was {O.a} for the winner.")
    c.maybe(0.6, "All the animals came to watch.", "Their friends cheered for them.")
    c.say("The race started, and {B} ran very fast.", "At the start, {B} was in front.")
    c.say("{B} thought {B.he} would win, so {B.he} took a nap.", "{B} stopped to eat a snack and rest.",
          "{B} stopped to play in the grass.")
    c.say("{A} did not stop.", "{A} kept going, step by step.", "{A} ran and ran without stopping.")
    c.maybe(0.5, "{A} was tired, but {A.he} did not give up.", "{A}'s legs hurt, but {A.he} kept going.")
    c.say("{A} crossed the line first.", "In the end, {A} reached the finish line before {B}.")
    c.end(("{A} won the race and got the {O}.", "{B} won the race and got the {O}.", "character"),
          ("{A} was {G} because {A.he} won the race.", "{A} was {S} because {A.he} won the race.", "emotion"),
          ("{B} learned that slow and steady can win.", "{B} learned that taking a nap always wins.", "outcome"))


@schema("fear_overcome")
def fear_overcome(c: Ctx) -> None:
    a = c.child("A")
    c.parent("M")
    c.word("T", ["swim in the pool", "climb the tall slide", "ride {A.his} bike", "jump into the lake",
                 "go down the big hill on a sled", "sing in front of the class"])
    c.vars["T"] = c.vars["T"].format_map(c.vars)  # type: ignore[union-attr]
    emotion_pair(c)
    c.opening(a)
    c.say("{A} was afraid to {T}.", "{A} wanted to {T}, but {A.he} was scared.",
          "Everyone could {T}, but {A} was afraid.")
    c.maybe(0.6, "{A.his} tummy felt funny when {A.he} thought about it.", "{A.his} hands shook.")
    c.say("{M} said, \"You can do it. I will stay with you.\"", "{M} held {A.his} hand and said, \"Be brave.\"")
    c.maybe(0.6, "{A} took a deep breath.", "{A} closed {A.his} eyes and counted to three.")
    c.say("Then {A} tried to {T}.", "{A} was brave and started to {T}.")
    c.maybe(0.5, "It was hard at first.", "At first, {A.he} almost stopped.")
    c.say("It was not so scary after all.", "It was easier than {A.he} thought.", "Soon, {A.he} was having fun.")
    c.end(("{A} was {G} and not scared anymore.", "{A} was {S} and more scared than ever.", "emotion"),
          ("Now {A} could {T}, and {A.he} did it every day.", "Now {A} never wanted to {T} again.", "outcome"),
          ("{M} said, \"I am proud of you, {A}!\"", "{A} said, \"I am proud of you, {M}!\"", "character"))


@schema("climb_goal")
def climb_goal(c: Ctx) -> None:
    a = c.child("A")
    b = c.child("B")
    c.place("P", ("hill", "mountain"))
    c.thing("O", ("tree", "flower", "rainbow", "star", "cloud", "rock", "nest"), adj_cls="size")
    emotion_pair(c)
    c.opening(a)
    c.say("{A} wanted to climb to the top of the big {P}.", "There was a big {P} near {A}'s house.")
    c.say("From the top, {A.he} could see {O.a}.", "People said there was {O.a} at the top.")
    c.maybe(0.6, "{A} asked {A.his} friend {B} to come too.", "{A.his} friend {B} came along.")
    c.say("The way up was long and steep.", "The path was rocky and hard.", "They walked past trees and big rocks.",
          "The path went up and up, round and round.")
    c.maybe(0.6, "Soon, {A} was very tired.", "{A.his} feet started to hurt.")
    c.maybe(0.6, "{B} said, \"We can rest for a bit.\"", "{B} shared {B.his} water with {A.him}.")
    c.say("{A} did not give up.", "They kept walking up and up.", "{A} took one more step, and then another.")
    c.say("At last, they reached the top.", "Finally, {A} stood on top of the {P}.",
          "After a long walk, {A} and {B} were at the top.")
    c.end(("{A} saw the {O} and was very {G}.", "{A} saw the {O} and was very {S}.", "emotion"),
          ("{A} and {B} sat on top of the {P} and smiled.", "{A} and {B} never got to the top of the {P}.",
           "outcome"),
          ("{A} thanked {B} for coming along.", "{B} thanked {A} for coming along.", "character"))


@schema("rescue_animal")
def rescue_animal(c: Ctx) -> None:
    a = c.child("A")
    c.animal("D", ("kitten", "puppy", "bird", "duck", "squirrel", "bunny", "lamb", "owl", "turtle", "frog"))
    c.place("P", ("park", "forest", "garden", "river", "pond", "field", "farm"))
    c.word("W", ["stuck in a tree", "stuck in the mud", "caught in a net", "lost and alone", "hurt on its leg"])
    c.thing("O", ("blanket", "basket", "box", "towel", "ladder", "stick", "rope", "net"), adj_cls=None)
    emotion_pair(c)
    c.opening(a)
    c.say("One day, {A} went for a walk {P.at}.", "{A} was playing {P.at}.")
    c.say("{A.he} heard a small sound.", "Suddenly, {A.he} heard a sad cry.")
    c.say("It was {D.intro} that was {W}.", "{A} saw {D.intro}, and it was {W}.")
    c.maybe(0.6, "The poor animal was scared.", "{D} looked at {A} with big eyes.")
    c.say("{A} wanted to help {D}.", "{A} knew {A.he} had to help.")
    c.say("{A.he} used {O.a} to help it.", "{A.he} ran home and came back with {O.a}.")
    c.maybe(0.6, "{A} was very careful and gentle.", "{A.he} moved slowly so {D} would not be scared.")
    c.say("Soon, {D} was safe.", "At last, {D} was free.")
    c.end(("{D} was {G} and stayed close to {A}.", "{D} was {S} and bit {A}.", "emotion"),
          ("{A} was {G} that {A.he} saved {D}.", "{A} was {S} that {A.he} saved {D}.", "emotion"),
          ("{D} became {A}'s best friend.", "{D} was still {W} forever.", "outcome"))


@schema("treasure_hunt")
def treasure_hunt(c: Ctx) -> None:
    a, b = c.child("A"), c.child("B")
    c.thing("M", ("map", "letter", "card"), adj_cls="quality")
    c.place("P", ("beach", "forest", "garden", "backyard", "island", "cave", "farm"))
    t = c.thing("T", ("box", "bag", "jar", "basket", "bottle"), adj_cls="quality")
    c.thing("G2", ("coin", "shell", "marble", "button", "feather", "pebble"), adj_cls="colour")
    other_thing(c, "X", t)
    emotion_pair(c)
    c.opening(a)
    c.say("One day, {A} found {M.a} in the attic.", "{A} found {M.a} under {A.his} bed.")
    c.say("The {M} showed the way to a treasure {P.at}.", "On the {M}, there was a big X {P.at}.")
    c.say("{A} showed it to {A.his} friend {B}.", "{A} ran to tell {A.his} friend {B}.")
    c.say("{A} and {B} went {P.to} to look for it.", "Together they went {P.to}.")
    c.maybe(0.6, "They walked and walked.", "They looked behind every tree and rock.")
    c.maybe(0.5, "{B} wanted to go home, but {A} said, \"Just a little more.\"", "It was getting late.")
    c.say("Then {A} saw something under a big rock.", "At last, they dug a hole and found {T.a}.")
    c.say("Inside the {T}, they found lots of {G2.pl}.",
          "The {T} was full of shiny {G2.pl}.")
    c.end(("{A} and {B} felt so {G} about their treasure.", "{A} and {B} felt so {S} about their treasure.",
           "emotion"),
          ("They took the {T} home and showed it to everyone.", "They took the {X} home and showed it to everyone.",
           "object"),
          ("{A} and {B} shared the {G2.pl} as friends.", "{A} and {B} found nothing and went home.", "outcome"))


@schema("kite_day")
def kite_day(c: Ctx) -> None:
    a = c.child("A")
    c.parent("M")
    k = c.thing("O", ("kite", "balloon"), adj_cls="colour")
    c.place("P", ("park", "beach", "hill", "field", "meadow"))
    other_thing(c, "X", k)
    emotion_pair(c)
    c.opening(a)
    c.say("{A} had {O.a}.", "{M} gave {A} {O.a}.", "{A} made {O.a} with {M}.")
    c.say("It was a windy day, so they went {P.to}.", "The wind was strong, and {A} ran {P.to}.")
    c.say("{A} ran, but the {O} did not go up.", "At first, the {O} fell down again and again.")
    c.maybe(0.6, "{A} felt {S}.", "{A} wanted to give up.")
    c.say("{M} showed {A.him} how to hold the string.", "{M} said, \"Run against the wind!\"")
    c.say("{A} tried again.", "{A} ran as fast as {A.he} could.")
    c.say("This time, the {O} went up high in the sky.", "Up, up, up went the {O}.")
    c.maybe(0.5, "Birds flew next to it.", "It danced in the wind.")
    c.end(("{A} laughed and was very {G}.", "{A} cried and was very {S}.", "emotion"),
          ("{A}'s {O.full} flew higher than the trees.", "{A}'s {X} flew higher than the trees.", "object"),
          ("{A} flew the {O} until the sun went down.", "{A} never got the {O} to fly.", "outcome"))


@schema("snow_day")
def snow_day(c: Ctx) -> None:
    a, b = c.child("A"), c.child("B")
    c.thing("H", ("hat", "scarf", "cap", "mitten"), adj_cls="colour")
    c.thing("N", ("carrot", "button", "stick", "stone", "pebble"), adj_cls=None)
    emotion_pair(c)
    c.opening(a)
    c.say("One morning, {A} looked out of the window and saw snow.", "It snowed all night.",
          "{A} woke up and everything was white.")
    c.say("{A} put on {A.his} {H.full} and went outside.", "{A} put on a warm coat and {A.his} {H.full}.")
    c.say("{A.his} friend {B} came to play.", "{A} met {A.his} friend {B} in the snow.")
    c.say("They wanted to build a snowman.", "{A} and {B} decided to make a big snowman.",
          "{B} said, \"Let us build a snowman!\"", "{A} had an idea to make a snowman as tall as {A.himself}.")
    c.say("They rolled a big ball of snow.", "They rolled the snow into three big balls.",
          "{A} rolled the bottom, and {B} made the head.", "They pushed the snow into a big pile.")
    c.maybe(0.6, "It was cold, but they did not mind.", "Their noses were red from the cold.")
    c.say("{A} used a {N} for its nose.", "{B} gave the snowman a {N} for a nose.")
    c.maybe(0.6, "{A} put {A.his} {H.full} on its head.", "They gave it two eyes made of stones.")
    c.end(("{A} and {B} were {G} with their snowman.", "{A} and {B} were {S} with their snowman.", "emotion"),
          ("The snowman stood tall in the yard.", "The snowman fell down before they made it.", "outcome"),
          ("{A} and {B} laughed and played in the snow all day.", "{A} and {B} stayed inside and never saw the snow.",
           "outcome"))


@schema("lost_in_forest")
def lost_in_forest(c: Ctx) -> None:
    a = c.child("A")
    h = c.animal("H", ("owl", "deer", "fox", "bird", "squirrel", "rabbit"))
    c.parent("M")
    c.place("P", ("forest", "jungle", "meadow"))
    emotion_pair(c)
    c.opening(a)
    c.say("One day, {A} went {P.to} to pick flowers.", "{A} went for a walk {P.at}.")
    c.say("{A} walked too far and got lost.", "Soon {A} did not know the way home.")
    c.say("It was getting dark, and {A} was scared.", "{A} felt {S} and alone.")
    c.maybe(0.6, "{A.he} sat down under a big tree.", "{A.he} called for {M}, but nobody came.")
    c.say(f"Then {{A}} met {h.intro}.", "Then {H.intro} came out from behind a tree.")
    c.say("{H} said, \"I know the way. Follow me.\"", "{H} showed {A} the path.")
    c.maybe(0.6, "They walked together past the river.", "{A} followed {H} through the trees.")
    c.say("At last, {A} saw {A.his} house.", "Soon {A} could see the lights of home.")
    c.end(("{M} hugged {A}, and {A} was {G} to be home.", "{M} hugged {A}, and {A} was {S} to be home.",
           "emotion"),
          ("{A} said thank you to {H}.", "{H} said thank you to {A}.", "character"),
          ("{A} was safe at home again.", "{A} stayed lost {P.at} forever.", "outcome"))
